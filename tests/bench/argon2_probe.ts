import { Worker } from "node:worker_threads";

/**
 * What this machine's cores can do for argon2id, without any server: hashes per second with
 * one and with two threads hashing at once, at the shipped cost (19 MiB, 2 passes) and at the
 * same work in a cache-sized memory (1 MiB, 38 passes). It tells "the service does not use the
 * second core" apart from "the second core does not help argon2id here".
 */
export interface Argon2Capacity {
  label: string;
  memoryKiB: number;
  iterations: number;
  /** Hashes per second by number of threads hashing at once. */
  perSecond: Record<number, number>;
}

async function hashesPerSecond(
  threads: number,
  memorySize: number,
  iterations: number,
  perThread: number,
): Promise<number> {
  const started = performance.now();
  await Promise.all(Array.from({ length: threads }, async () => {
    const worker = new Worker(new URL("./argon2_probe_worker.ts", import.meta.url));
    try {
      await new Promise((resolve, reject) => {
        worker.once("message", resolve);
        worker.once("error", reject);
        worker.postMessage({ count: perThread, memorySize, iterations });
      });
    } finally {
      await worker.terminate();
    }
  }));
  return threads * perThread / ((performance.now() - started) / 1000);
}

export async function argon2Capacity(): Promise<Argon2Capacity[]> {
  const sizes = [
    { label: "shipped (OWASP: 19 MiB, 2 passes)", memoryKiB: 19 * 1024, iterations: 2 },
    { label: "same work in 1 MiB (38 passes)", memoryKiB: 1024, iterations: 38 },
  ];
  const results: Argon2Capacity[] = [];
  for (const size of sizes) {
    const perSecond: Record<number, number> = {};
    for (const threads of [1, 2]) {
      perSecond[threads] = await hashesPerSecond(threads, size.memoryKiB, size.iterations, 20);
    }
    results.push({ ...size, perSecond });
  }
  return results;
}
