import { Worker } from "node:worker_threads";
import { constantTimeEqual, randomBytes } from "../ground/crypto.ts";
import { parseArgon2idPhc } from "../ground/fields.ts";

import { ApiError } from "../ground/errors.ts";
import {
  argon2id,
  type Argon2idInput,
  encodeArgon2idPhc,
  hashWorkerData,
  shortestPasswordBytes,
} from "./argon2id.ts";

/** OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane. */
export const argon2Parameters = {
  memorySize: 19 * 1024,
  iterations: 2,
  parallelism: 1,
  hashLength: 32,
} as const;

export const passwordLength = { min: 10, max: 256 } as const;

// argon2 runs in LATCHKEY_HASH_WORKERS worker threads (one by default), so the main thread
// keeps serving sockets while hashes run on another core; or, with none (the edge runtime has
// no workers), on the main thread, one at a time, each first yielding to the event loop
// (chained on promises alone, a queue of 50 hashes ran back to back for seconds while no
// socket was served).
// Either way at most one hash per slot runs at once, so memory is bounded: one 19 MiB WASM
// memory per slot, reused by each hash (argon2id.ts), plus a worker's own heap; never one
// allocation per waiting request.
// The queue is bounded (LATCHKEY_HASH_QUEUE_MAX): past it a request answers 503 `overloaded`
// at once instead of waiting behind seconds of hashing (hosted isolates count CPU time, and a
// flood of sign-ins must not starve everyone's).
let queued = 0;
let queueLimit = 32;
let hashesComputed = 0;
let workerCount = 0;
let running = 0;
const waiting: (() => void)[] = [];
/** A hash's usual cost here, for the Retry-After of an overloaded answer. */
const typicalHashMs = 50;
const yieldToEventLoop = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Sets the hash queue's bound and worker count (from the configuration, at start-up). */
export function configurePasswordHashing(
  options: { queueLimit: number; workers?: number },
): void {
  queueLimit = options.queueLimit;
  workerCount = options.workers ?? 0;
  // Workers started under the former settings that are idle now go; busy ones finish first.
  for (const worker of idleWorkers.splice(0)) stopWorker(worker);
}

/**
 * From now on a hash worker idle for `milliseconds` stops: with its own V8 heap and its 19 MiB
 * hash memory it holds about 20-50 MB that a quiet server does not need (measured: 256 MB right
 * after the Postman run, 206 MB a minute later); the next hash starts one again. The start
 * command turns it on; a process that imports the functions (tests, tasks) keeps its workers
 * until it exits, with no timer of this module pending.
 */
export function stopIdleHashWorkersAfter(milliseconds: number | null): void {
  workerIdleMs = milliseconds;
}

/** Hash workers that exist now, busy or idle. */
export function hashWorkersAlive(): number {
  return workersAlive;
}

/** How many argon2 computations this isolate has run (tests count the cost of a route). */
export function argon2Runs(): number {
  return hashesComputed;
}

/** Idle argon2 workers, started on first use, at most `workerCount`. */
const idleWorkers: Worker[] = [];
let nextJob = 0;

/** How long a worker may idle before it stops; null: never (stopIdleHashWorkersAfter). */
let workerIdleMs: number | null = null;
let workersAlive = 0;
const idleSince = new Map<Worker, ReturnType<typeof setTimeout>>();

function stopWorker(worker: Worker): void {
  clearTimeout(idleSince.get(worker));
  idleSince.delete(worker);
  workersAlive -= 1;
  worker.terminate();
}

function takeWorker(): Worker {
  const idle = idleWorkers.pop();
  if (idle) {
    clearTimeout(idleSince.get(idle));
    idleSince.delete(idle);
    return idle;
  }
  workersAlive += 1;
  return new Worker(new URL("./argon2id.ts", import.meta.url), { workerData: hashWorkerData });
}

function putWorkerBack(worker: Worker): void {
  idleWorkers.push(worker);
  if (workerIdleMs === null) return;
  const stop = setTimeout(() => {
    idleWorkers.splice(idleWorkers.indexOf(worker), 1);
    stopWorker(worker);
  }, workerIdleMs);
  // The timer alone does not keep a test or a task alive.
  Deno.unrefTimer(stop);
  idleSince.set(worker, stop);
}

function inWorker(input: Argon2idInput): Promise<Uint8Array> {
  const worker = takeWorker();
  const id = ++nextJob;
  return new Promise<Uint8Array>((resolve, reject) => {
    const onMessage = (message: { id: number; result?: Uint8Array; error?: string }) => {
      if (message.id !== id) return;
      clearTimeout(deadline);
      worker.off("message", onMessage);
      worker.off("error", onError);
      worker.off("exit", onExit);
      // Idle, a worker does not keep the process alive (tests and tasks exit; the gateway
      // serves anyway); busy, it does, so its answer is awaited.
      worker.unref();
      putWorkerBack(worker);
      if (message.error !== undefined) reject(new Error(message.error));
      else resolve(message.result!);
    };
    // A worker that dies without an error event (it exits, or the runtime ends it) or that
    // never answers must not leave its request waiting forever: it is given up and stopped,
    // and the next hash starts another.
    const onError = (error: Error) => {
      clearTimeout(deadline);
      worker.off("message", onMessage);
      worker.off("error", onError);
      worker.off("exit", onExit);
      workersAlive -= 1;
      reject(error);
    };
    const onExit = () => onError(new Error("the hash worker exited"));
    const deadline = setTimeout(() => {
      onError(new Error(`the hash worker did not answer within ${workerDeadlineMs} ms`));
      worker.terminate();
    }, workerDeadlineMs);
    worker.on("message", onMessage);
    worker.once("error", onError);
    worker.once("exit", onExit);
    worker.ref();
    worker.postMessage({ id, input });
  });
}

/** Far beyond a hash's cost (about 50 ms; seconds on a starved machine). */
const workerDeadlineMs = 30_000;

/** argon2id within the isolate's slots (one per worker, or one on the main thread). */
async function computeArgon2(input: Argon2idInput): Promise<Uint8Array> {
  if (queued >= queueLimit) {
    throw new ApiError("overloaded", {
      headers: {
        "Retry-After": String(
          Math.max(1, Math.ceil(queued * typicalHashMs / 1000 / Math.max(workerCount, 1))),
        ),
      },
    });
  }
  queued += 1;
  try {
    if (running >= Math.max(workerCount, 1)) {
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
    running += 1;
    try {
      hashesComputed += 1;
      if (workerCount > 0) return await inWorker(input);
      await yieldToEventLoop();
      return await argon2id(input);
    } finally {
      running -= 1;
      waiting.shift()?.();
    }
  } finally {
    queued -= 1;
  }
}

/** Hashes a password into an argon2id PHC string. */
export async function hashPassword(password: string): Promise<string> {
  const input = {
    password: new TextEncoder().encode(password),
    salt: randomBytes(16),
    ...argon2Parameters,
  };
  return encodeArgon2idPhc(input, await computeArgon2(input));
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
  const bytes = new TextEncoder().encode(password);
  // Too short for the hasher: pay for a hash of a stand-in anyway, and never match.
  const checkable = bytes.length >= shortestPasswordBytes;
  const computed = await computeArgon2({
    password: checkable ? bytes : new Uint8Array(shortestPasswordBytes),
    salt: parsed.salt,
    memorySize: parsed.memorySize,
    iterations: parsed.iterations,
    parallelism: parsed.parallelism,
    hashLength: parsed.hash.length,
  });
  return {
    matches: stored !== null && checkable && constantTimeEqual(computed, parsed.hash),
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
