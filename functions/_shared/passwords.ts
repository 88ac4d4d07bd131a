import { argon2id } from "hash-wasm";
import { base64Decode, constantTimeEqual, randomBytes } from "./crypto.ts";

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
let argon2Queue: Promise<unknown> = Promise.resolve();
const yieldToEventLoop = () => new Promise((resolve) => setTimeout(resolve, 0));
function oneAtATime<T>(work: () => Promise<T>): Promise<T> {
  const afterOthers = async () => {
    await yieldToEventLoop();
    return await work();
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
  const parsed = parseArgon2idPhc(phc);
  if (!parsed) {
    await burnPasswordCheck(password);
    return { matches: false, needsRehash: false };
  }
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
    matches: constantTimeEqual(computed, parsed.hash) && password !== "",
    needsRehash: parsed.memorySize !== argon2Parameters.memorySize ||
      parsed.iterations !== argon2Parameters.iterations ||
      parsed.parallelism !== argon2Parameters.parallelism ||
      parsed.hash.length !== argon2Parameters.hashLength,
  };
}

let decoyHash: Promise<string> | undefined;

/**
 * Spends the same work as checking a real password, for unknown emails and accounts without
 * a password, so response time does not tell whether an account exists.
 */
export async function burnPasswordCheck(password: string): Promise<void> {
  decoyHash ??= hashPassword(crypto.randomUUID() + crypto.randomUUID());
  const phc = await decoyHash;
  await verifyPassword(password, phc);
}
