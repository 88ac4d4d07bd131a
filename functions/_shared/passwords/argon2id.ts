import setupWasm from "argon2id/lib/setup.js";
import { parentPort, workerData } from "node:worker_threads";
import { base64Decode, base64Encode } from "../ground/crypto.ts";
import { argon2idSimdWasm, argon2idWasm } from "./argon2id_wasm.ts";

/**
 * argon2id (RFC 9106) on one WebAssembly memory per thread, reused by every hash.
 *
 * Hosted isolates have 256 MB and no way to ask V8 for a collection. hash-wasm, used before,
 * gave each hash a fresh 19 MiB WebAssembly memory that V8 returned only when it next collected,
 * so a burst of sign-ins held several dead memories at once (measured: 340 MB RSS). The argon2id
 * package (OpenPGP.js's) lets the caller keep the instance: its memory grows to the largest
 * hash once and is written over by the next (and it runs twice as fast, with SIMD).
 *
 * Started as a hash worker (passwords.ts starts one per spare core), this module is the worker:
 * one hash at a time, off the isolate's main thread, so hashing neither blocks sockets nor waits
 * for a single core. Imported anywhere else (including by other workers), it only hashes.
 */

export interface Argon2idInput {
  password: Uint8Array;
  salt: Uint8Array;
  /** KiB. */
  memorySize: number;
  iterations: number;
  parallelism: number;
  hashLength: number;
}

type Hasher = Awaited<ReturnType<typeof setupWasm>>;

function instantiate(base64: string) {
  const bytes = base64Decode(base64)!.buffer as ArrayBuffer;
  return (imports: WebAssembly.Imports) => WebAssembly.instantiate(bytes, imports);
}

function loadHasher(): Promise<Hasher> {
  return setupWasm(instantiate(argon2idSimdWasm), instantiate(argon2idWasm));
}

/**
 * The memory the kept instance may grow to. A stored hash made with more (an imported or
 * older hash) is computed on an instance of its own, dropped afterwards, so one such check
 * does not keep its memory for the isolate's life.
 */
export const reusedMemoryKiB = 19 * 1024;

let kept: Promise<Hasher> | undefined;

/**
 * argon2id 1.0.1 refuses a password of no byte or of one byte below 8: its length check
 * compares the array itself, not its length. Callers hash no such password (the shortest is 10
 * characters) and check one against a stand-in of this length, at the same cost.
 */
export const shortestPasswordBytes = 2;

/** The raw argon2id tag. Synchronous once loaded: the caller decides when it may block. */
export async function argon2id(input: Argon2idInput): Promise<Uint8Array> {
  const hasher = input.memorySize <= reusedMemoryKiB
    ? await (kept ??= loadHasher())
    : await loadHasher();
  return hasher({
    password: input.password,
    salt: input.salt,
    memorySize: input.memorySize,
    passes: input.iterations,
    parallelism: input.parallelism,
    tagLength: input.hashLength,
  });
}

const base64Unpadded = (bytes: Uint8Array) => base64Encode(bytes).replace(/=+$/, "");

/** The PHC string format argon2's reference implementation writes. */
export function encodeArgon2idPhc(input: Omit<Argon2idInput, "password">, hash: Uint8Array) {
  return `$argon2id$v=19$m=${input.memorySize},t=${input.iterations},p=${input.parallelism}$${
    base64Unpadded(input.salt)
  }$${base64Unpadded(hash)}`;
}

/** What passwords.ts passes to a worker it starts on this module. */
export const hashWorkerData = { role: "argon2id hash worker" } as const;

if (parentPort && workerData?.role === hashWorkerData.role) {
  const port = parentPort;
  port.on("message", async ({ id, input }: { id: number; input: Argon2idInput }) => {
    try {
      port.postMessage({ id, result: await argon2id(input) });
    } catch (error) {
      port.postMessage({ id, error: String(error) });
    }
  });
}
