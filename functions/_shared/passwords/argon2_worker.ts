import { argon2id, type IArgon2Options } from "hash-wasm";
import { parentPort } from "node:worker_threads";
import { releaseHashMemory } from "./hash_memory.ts";

/**
 * One argon2id computation at a time, off the isolate's main thread (passwords.ts starts one
 * such worker per spare core), so hashing neither blocks sockets nor waits for a single core.
 */
parentPort!.on("message", async ({ id, options }: { id: number; options: IArgon2Options }) => {
  try {
    parentPort!.postMessage({ id, result: await argon2id(options) });
    releaseHashMemory();
  } catch (error) {
    parentPort!.postMessage({ id, error: String(error) });
  }
});
