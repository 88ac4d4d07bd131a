import assert from "node:assert/strict";
import { defaultPassword, signUp, testClient, uniqueEmail } from "../../support/http.ts";
import { rssMb, startTestServer } from "../../support/server.ts";

/**
 * Hashing bursts within an edge isolate's memory (256 MB, no Web Workers, no `--expose-gc`):
 * sign-ins, sign-ups and password changes, 10 at once, on a server with no hash worker (the
 * edge runtime's setting) and with the default one. Each argon2id hash runs on its thread's one
 * reused WebAssembly memory (passwords/argon2id.ts). Measured: 50 sign-ins grew RSS by 177-178
 * MB with hash-wasm's memory per hash left to V8; these 30 requests (40 hashes) by 19-34 MB now.
 */
for (const workers of [0, 1]) {
  Deno.test(`bursts of sign-ins, sign-ups and password changes stay within 256 MB (${workers} hash workers)`, async () => {
    const [signingIn, ...accounts] = await Promise.all(
      Array.from({ length: 4 }, () => signUp("memory")),
    );
    const server = await startTestServer(Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!, {
      LATCHKEY_LOG_LEVEL: "warn",
      LATCHKEY_HASH_WORKERS: String(workers),
      // Each request from a client of its own, so the sign-up throttle is not what is tested.
      LATCHKEY_TRUSTED_PROXY_HOPS: "1",
    });
    const post = async (path: string, body: unknown, token?: string) => {
      const response = await fetch(`${server.baseUrl}/functions/v1/auth/${path}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...testClient(),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(body),
      });
      await response.body?.cancel();
      return `${path} ${response.status}`;
    };
    const passwords = accounts.map(() => defaultPassword);
    const burst = (round: number) => [
      ...Array.from(
        { length: 4 },
        () => post("sign-in/email", { email: signingIn.email, password: defaultPassword }),
      ),
      ...Array.from({ length: 3 }, () =>
        post("sign-up/email", {
          name: "Memory",
          email: uniqueEmail("memory"),
          password: defaultPassword,
        })),
      ...accounts.map((account, i) => {
        const newPassword = `memory round ${round} passphrase`;
        const change = post(
          "change-password",
          { currentPassword: passwords[i], newPassword },
          account.token,
        );
        passwords[i] = newPassword;
        return change;
      }),
    ];
    try {
      assert.equal(
        await post("sign-in/email", { email: signingIn.email, password: defaultPassword }),
        "sign-in/email 200",
      );
      const baseline = rssMb(server.pid);
      let peak = baseline;
      const sampler = setInterval(() => peak = Math.max(peak, rssMb(server.pid)), 20);
      try {
        for (let round = 0; round < 3; round++) {
          const statuses = await Promise.all(burst(round));
          for (const status of statuses) assert.match(status, / 200$/);
        }
      } finally {
        clearInterval(sampler);
      }
      console.log(
        `  30 hashing requests: RSS ${baseline.toFixed(0)} MB, peak ${peak.toFixed(0)} MB`,
      );
      assert.ok(peak - baseline < 60, `RSS grew ${(peak - baseline).toFixed(0)} MB`);
      assert.ok(peak < 256, `peak RSS ${peak.toFixed(0)} MB`);
    } finally {
      await server.stop();
    }
  });
}
