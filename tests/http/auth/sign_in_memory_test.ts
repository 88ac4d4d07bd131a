import assert from "node:assert/strict";
import { defaultPassword, signUp } from "../../support/http.ts";
import { rssMb, startTestServer } from "../../support/server.ts";

/**
 * Sign-in bursts with bounded memory: each argon2id hash takes a fresh 19 MiB WebAssembly
 * memory, and the hash worker (deno task start's default: one) collects it after each hash.
 * Measured: these 50 sign-ins grew RSS by 177-178 MB with the collection removed, 44-50 MB
 * with it (25-26 on Deno 2.1.4).
 */
Deno.test("five bursts of 10 concurrent sign-ins grow RSS by under 100 MB", async () => {
  const account = await signUp("memory");
  const server = await startTestServer(Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!, {
    LATCHKEY_LOG_LEVEL: "warn",
  });
  try {
    const signIn = async () => {
      const response = await fetch(`${server.baseUrl}/functions/v1/auth/sign-in/email`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: account.email, password: defaultPassword }),
      });
      await response.body?.cancel();
      return response.status;
    };
    assert.equal(await signIn(), 200);
    const baseline = rssMb(server.pid);
    let peak = baseline;
    const sampler = setInterval(() => peak = Math.max(peak, rssMb(server.pid)), 20);
    try {
      for (let burst = 0; burst < 5; burst++) {
        const statuses = await Promise.all(Array.from({ length: 10 }, signIn));
        assert.deepEqual(statuses, Array(10).fill(200));
      }
    } finally {
      clearInterval(sampler);
    }
    console.log(`  50 sign-ins: RSS ${baseline.toFixed(0)} MB, peak ${peak.toFixed(0)} MB`);
    assert.ok(peak - baseline < 100, `RSS grew ${(peak - baseline).toFixed(0)} MB`);
  } finally {
    await server.stop();
  }
});
