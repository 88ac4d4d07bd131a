import assert from "node:assert/strict";
import { defaultPassword, recordSecret, signUp } from "../../support/http.ts";
import { startTestServer } from "../../support/server.ts";

/**
 * A sign-in burst holds one hash's memory per slot, not one per hash: hash-wasm gives every hash
 * a fresh 19 MiB of WebAssembly memory, and without a collection right after each (the gateway
 * runs with --expose-gc, as `deno task start` does) 30 sign-ins left some 250 MB of it behind.
 * Each slot is a gateway of the test's own, its RSS sampled through the burst.
 */

function rssMb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

const signIns = 30;
const concurrency = 10;

for (const workers of [0, 1]) {
  Deno.test(`30 sign-ins, 10 at a time, ${workers} hash workers: RSS grows by a slot's hash, not by the burst`, async () => {
    const account = await signUp("memory");
    recordSecret(account.token);
    const server = await startTestServer(Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!, {
      LATCHKEY_HASH_WORKERS: String(workers),
      LATCHKEY_LOG_LEVEL: "warn",
    });
    try {
      const signIn = async () => {
        const response = await fetch(`${server.baseUrl}/functions/v1/auth/sign-in/email`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ email: account.email, password: defaultPassword }),
        });
        const body = await response.json();
        assert.equal(response.status, 200, JSON.stringify(body));
        recordSecret(body.session.token);
      };
      // One sign-in first: the baseline is the server with its slots started, at rest.
      await signIn();
      const baseline = rssMb(server.pid);
      let peak = baseline;
      const sampler = setInterval(() => peak = Math.max(peak, rssMb(server.pid)), 10);
      try {
        let next = 0;
        await Promise.all(Array.from({ length: concurrency }, async () => {
          while (next++ < signIns) await signIn();
        }));
      } finally {
        clearInterval(sampler);
      }
      const growth = peak - baseline;
      console.log(`  RSS ${baseline.toFixed(0)} MB at rest, peak ${peak.toFixed(0)} MB`);
      // Two hashes' worth per slot (the one running and the one just collected) and room for
      // the requests themselves; the burst's 30 hashes would be 570 MiB.
      assert.ok(growth < 2 * 20 * Math.max(workers, 1) + 40, `RSS grew ${growth.toFixed(0)} MB`);
    } finally {
      await server.stop();
    }
  });
}
