import assert from "node:assert/strict";
import postgres from "postgres";
import { startPgBouncer } from "../support/pgbouncer.ts";
import { startTestServer } from "../support/server.ts";
import { ensurePgBouncer } from "../support/tools.ts";

/**
 * The functions through a transaction pooler set up like Supabase's Dedicated Pooler (PgBouncer,
 * transaction mode, only extra_float_digits accepted among unknown startup parameters). Before:
 * the client sent statement_timeout at connect time and was refused outright; through a pooler
 * that drops it, a request waited 11 s on a lock instead of answering 503 after the timeout.
 */

const databaseUrl = Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!;
const pgBouncer = await ensurePgBouncer();

async function json(url: string, init: RequestInit = {}) {
  const response = await fetch(url, {
    ...init,
    headers: { "content-type": "application/json", ...init.headers },
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text ? JSON.parse(text) : null,
  };
}

Deno.test({
  name:
    "through PgBouncer in transaction mode: auth, keys and admin work; a lock past the timeout is a 503",
  ignore: !pgBouncer,
  async fn() {
    const pooler = await startPgBouncer(pgBouncer!, databaseUrl);
    const adminKey = `pooler-admin-key-${crypto.randomUUID()}`;
    const server = await startTestServer(pooler.url, {
      LATCHKEY_ADMIN_KEY: adminKey,
      LATCHKEY_DB_PREPARE: "false",
      LATCHKEY_DB_STATEMENT_TIMEOUT_MS: "1000",
      LATCHKEY_LOG_LEVEL: "warn",
    }).catch(async (error) => {
      // A server that cannot start must not leave the pooler running.
      await pooler.stop();
      throw error;
    });
    const api = `${server.baseUrl}/functions/v1`;
    const direct = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    try {
      const email = `pooled-${crypto.randomUUID()}@example.test`;
      const signUp = await json(`${api}/auth/sign-up/email`, {
        method: "POST",
        body: JSON.stringify({ name: "Pooled", email, password: "through the pooler" }),
      });
      assert.equal(signUp.status, 200);
      const signIn = await json(`${api}/auth/sign-in/email`, {
        method: "POST",
        body: JSON.stringify({ email, password: "through the pooler" }),
      });
      assert.equal(signIn.status, 200);
      const token = signIn.body.session.token;
      const created = await json(`${api}/keys`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        body: JSON.stringify({ name: "pooled key" }),
      });
      assert.equal(created.status, 201);
      const verified = await json(`${api}/keys/verify`, {
        method: "POST",
        body: JSON.stringify({ key: created.body.key }),
      });
      assert.equal(verified.body.code, "VALID");
      const listed = await json(`${api}/admin/users?email=${encodeURIComponent(email)}`, {
        headers: { "x-admin-key": adminKey },
      });
      assert.equal(listed.status, 200);
      assert.equal(listed.body.users[0].email, email);

      // A lock held past the timeout: the key's row, locked by another transaction for 4 s.
      const fresh = await json(`${api}/keys`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        body: JSON.stringify({ name: "locked key" }),
      });
      const holding = direct.begin(async (tx) => {
        await tx`select 1 from latchkey.api_keys where id = ${fresh.body.id} for update`;
        await new Promise((resolve) => setTimeout(resolve, 4000));
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      for (
        const [what, request] of [
          ["the hot path", () =>
            json(`${api}/keys/verify`, {
              method: "POST",
              body: JSON.stringify({ key: fresh.body.key }),
            })],
          ["a route in the caller's transaction", () =>
            json(`${api}/keys/${fresh.body.id}`, {
              method: "DELETE",
              headers: { authorization: `Bearer ${token}` },
            })],
        ] as const
      ) {
        const started = performance.now();
        const result = await request();
        const took = performance.now() - started;
        assert.equal(result.status, 503, `${what}: ${JSON.stringify(result.body)}`);
        assert.equal(result.body.error.code, "database_unavailable");
        assert.ok(took < 2500, `${what} answered after ${Math.round(took)} ms`);
      }
      await holding;
      const health = await json(`${api}/version/health`);
      assert.equal(health.status, 200, "the pooled connections are usable after the cancels");
    } finally {
      await direct.end();
      await server.stop();
      await pooler.stop();
    }
  },
});
