import { argon2id } from "hash-wasm";
import { parentPort } from "node:worker_threads";

/** Runs `count` argon2id hashes with `memorySize` KiB and `iterations`, then reports. */
parentPort!.once("message", async ({ count, memorySize, iterations }) => {
  for (let i = 0; i < count; i++) {
    await argon2id({
      password: "probe password",
      salt: new Uint8Array(16),
      memorySize,
      iterations,
      parallelism: 1,
      hashLength: 32,
      outputType: "encoded",
    });
  }
  parentPort!.postMessage("done");
});
