import { parentPort } from "node:worker_threads";
import { argon2id } from "../../functions/_shared/passwords/argon2id.ts";

/** Runs `count` argon2id hashes with `memorySize` KiB and `iterations`, then reports. */
parentPort!.once("message", async ({ count, memorySize, iterations }) => {
  for (let i = 0; i < count; i++) {
    await argon2id({
      password: new TextEncoder().encode("probe password"),
      salt: new Uint8Array(16),
      memorySize,
      iterations,
      parallelism: 1,
      hashLength: 32,
    });
  }
  parentPort!.postMessage("done");
});
