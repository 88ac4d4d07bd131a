import { argon2id } from "hash-wasm";
import { base64Decode, constantTimeEqual, randomBytes } from "./crypto.ts";
import { ApiError } from "./errors.ts";

/** OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane. */
export const argon2Parameters = {
  memorySize: 19 * 1024,
  iterations: 2,
  parallelism: 1,
  hashLength: 32,
} as const;

export const passwordLength = { min: 10, max: 256 } as const;

// argon2 in WASM computes on the isolate's one JS thread, so running two at once gains nothing,
// but each call holds its own 19 MiB of WASM memory while it waits. One at a time keeps a burst
// of sign-ins from multiplying the server's memory (measured in the bench's soak).
// Each hash first yields to the event loop: chained on promises alone, a queue of 50 hashes ran
// back to back for seconds while no socket was served, and queries already sent could not
// finish (parallel sign-ups waited on an unflushed one past the statement timeout).
// The queue is bounded (LATCHKEY_HASH_QUEUE_MAX): past it a request answers 503 `overloaded`
// at once instead of waiting behind seconds of hashing (hosted isolates count CPU time, and a
// flood of sign-ins must not starve everyone's).
let argon2Queue: Promise<unknown> = Promise.resolve();
let queued = 0;
let queueLimit = 32;
let hashesComputed = 0;
/** A hash's usual cost here, for the Retry-After of an overloaded answer. */
const typicalHashMs = 100;
const yieldToEventLoop = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Sets the bound of the hash queue (from LATCHKEY_HASH_QUEUE_MAX, at start-up). */
export function configurePasswordHashing(options: { queueLimit: number }): void {
  queueLimit = options.queueLimit;
}

/** How many argon2 computations this isolate has run (tests count the cost of a route). */
export function argon2Runs(): number {
  return hashesComputed;
}

function oneAtATime<T>(work: () => Promise<T>): Promise<T> {
  if (queued >= queueLimit) {
    return Promise.reject(
      new ApiError("overloaded", {
        headers: { "Retry-After": String(Math.max(1, Math.ceil(queued * typicalHashMs / 1000))) },
      }),
    );
  }
  queued += 1;
  const afterOthers = async () => {
    await yieldToEventLoop();
    try {
      hashesComputed += 1;
      return await work();
    } finally {
      queued -= 1;
    }
  };
  const result = argon2Queue.then(afterOthers, afterOthers);
  argon2Queue = result.catch(() => {});
  return result;
}

/** Hashes a password into an argon2id PHC string. */
export function hashPassword(password: string): Promise<string> {
  return oneAtATime(() =>
    argon2id({
      password,
      salt: randomBytes(16),
      ...argon2Parameters,
      outputType: "encoded",
    })
  );
}

interface PhcArgon2id {
  memorySize: number;
  iterations: number;
  parallelism: number;
  salt: Uint8Array;
  hash: Uint8Array;
}

// Bounds on stored parameters, so a hostile hash (say, from configuration) cannot make one
// verification take minutes or gigabytes.
const maxMemoryKiB = 256 * 1024;
const maxIterations = 10;
const maxParallelism = 8;

export function parseArgon2idPhc(phc: string): PhcArgon2id | null {
  const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/
    .exec(phc);
  if (!match) return null;
  const [memorySize, iterations, parallelism] = match.slice(1, 4).map(Number);
  const salt = base64Decode(match[4]);
  const hash = base64Decode(match[5]);
  if (!salt || !hash || salt.length < 8 || hash.length < 16 || hash.length > 64) return null;
  if (memorySize < 8 * parallelism || memorySize > maxMemoryKiB) return null;
  if (iterations < 1 || iterations > maxIterations) return null;
  if (parallelism < 1 || parallelism > maxParallelism) return null;
  return { memorySize, iterations, parallelism, salt, hash };
}

export interface PasswordCheck {
  matches: boolean;
  /** The stored hash was made with other parameters and should be replaced. */
  needsRehash: boolean;
}

/** Checks a password against a PHC string in constant time; a malformed hash never matches. */
export async function verifyPassword(password: string, phc: string): Promise<PasswordCheck> {
  const stored = parseArgon2idPhc(phc);
  // A malformed hash is checked against the decoy, at the same cost, and never matches.
  const parsed = stored ?? parseArgon2idPhc(decoyPhc)!;
  const computed = await oneAtATime(() =>
    argon2id({
      // hash-wasm refuses an empty password; pay for a hash anyway, and never match.
      password: password === "" ? "\u0000" : password,
      salt: parsed.salt,
      memorySize: parsed.memorySize,
      iterations: parsed.iterations,
      parallelism: parsed.parallelism,
      hashLength: parsed.hash.length,
      outputType: "binary",
    })
  );
  return {
    matches: stored !== null && password !== "" && constantTimeEqual(computed, parsed.hash),
    needsRehash: stored !== null && (
      parsed.memorySize !== argon2Parameters.memorySize ||
      parsed.iterations !== argon2Parameters.iterations ||
      parsed.parallelism !== argon2Parameters.parallelism ||
      parsed.hash.length !== argon2Parameters.hashLength
    ),
  };
}

/**
 * The hash unknown emails are checked against: shipped, not made on first use, so an unknown
 * email costs exactly one hash even in a fresh isolate (hosted counts each isolate's CPU). Made
 * with argon2Parameters from a random password nobody kept; a test fails if they drift apart.
 */
export const decoyPhc =
  "$argon2id$v=19$m=19456,t=2,p=1$hvcJDszW2gQb40jp7yIthg$nCzSEBpODzwpbs314u7IX+T5U5Ty4d+g4jR8i5um8uU";

/**
 * Spends the same work as checking a real password, for unknown emails and accounts without
 * a password, so response time does not tell whether an account exists.
 */
export async function burnPasswordCheck(password: string): Promise<void> {
  await verifyPassword(password, decoyPhc);
}
