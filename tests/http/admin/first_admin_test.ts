import assert from "node:assert/strict";
import { loadConfig } from "../../../functions/_shared/config/config.ts";
import { createDatabase } from "../../../functions/_shared/db/database.ts";
import { ensureFirstAdmin } from "../../../functions/_shared/accounts/first_admin.ts";
import { signUp, withDatabase } from "../../support/http.ts";
import { serveFunctions } from "../../support/in_process.ts";

/**
 * The first admin with no task of ours in the loop, as on a hosted project: the functions
 * create it from their secrets before their first request. Over real HTTP (the auth app, as
 * the edge runtime would serve it) against the test database.
 */

const databaseUrl = Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!;

function hostedConfig(email: string, password: string) {
  return loadConfig({
    SUPABASE_DB_URL: databaseUrl,
    LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: email,
    LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: password,
    LATCHKEY_LOG_LEVEL: "silent",
  });
}

async function accounts(email: string) {
  const rows = await withDatabase((sql) =>
    sql<{ role: string; created_by_bootstrap: boolean; audited: number }[]>`
      select u.role, u.created_by_bootstrap,
        (select count(*)::int from latchkey.audit_events a
          where a.action = 'bootstrap.admin_created' and a.target_id = u.id) as audited
      from latchkey.users u where lower(u.email) = lower(${email})`
  );
  return rows.map((row) => ({ ...row }));
}

Deno.test("concurrent first requests to a fresh isolate create the configured admin once", async () => {
  const email = `first-admin-${crypto.randomUUID()}@example.test`;
  const password = "the first admin's passphrase";
  const served = serveFunctions({
    SUPABASE_DB_URL: databaseUrl,
    LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: email,
    LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: password,
  });
  try {
    // As many as one client may have in flight for one account (LATCHKEY_SIGN_IN_MAX_FAILURES:
    // each attempt is reserved against the lock-out until its password proves right).
    const signIns = await Promise.all(
      Array.from(
        { length: 10 },
        () => served.call("POST", "/auth/sign-in/email", {}, { email, password }),
      ),
    );
    assert.deepEqual(signIns.map((result) => result.status), Array(10).fill(200));
    assert.equal(signIns[0].body.user.role, "admin");
    assert.deepEqual(await accounts(email), [
      { role: "admin", created_by_bootstrap: true, audited: 1 },
    ]);
  } finally {
    await served.close();
  }
});

Deno.test("isolates racing each other create one admin; later cold starts change nothing", async () => {
  const email = `racing-admin-${crypto.randomUUID()}@example.test`;
  const config = hostedConfig(email, "a racing admin's passphrase");
  const isolates = Array.from({ length: 4 }, () => ({ config, sql: createDatabase(config) }));
  try {
    await Promise.all(isolates.map((runtime) => ensureFirstAdmin(runtime)));
    const later = { config, sql: createDatabase(config) };
    await ensureFirstAdmin(later);
    await later.sql.end();
    assert.deepEqual(await accounts(email), [
      { role: "admin", created_by_bootstrap: true, audited: 1 },
    ]);
  } finally {
    await Promise.all(isolates.map((runtime) => runtime.sql.end()));
  }
});

Deno.test("a stranger who signed up with the admin email first is never promoted", async () => {
  const stranger = await signUp("squatter");
  const config = hostedConfig(stranger.email, "the operator's passphrase");
  const runtime = { config, sql: createDatabase(config) };
  try {
    await ensureFirstAdmin(runtime);
    assert.deepEqual(await accounts(stranger.email), [
      { role: "user", created_by_bootstrap: false, audited: 0 },
    ]);
  } finally {
    await runtime.sql.end();
  }
});
