import assert from "node:assert/strict";
import { runDeno } from "../support/deno_run.ts";
import { hashPassword } from "../../functions/_shared/passwords/passwords.ts";
import {
  call,
  defaultPassword,
  signIn,
  signUp,
  uniqueEmail,
  verifyKey,
  withDatabase,
} from "../support/http.ts";

/** Runs one of the local tasks' scripts against the test database, as `deno task` would. */
function runTask(script: string, args: string[], env: Record<string, string> = {}) {
  return runDeno(["run", "--allow-all", `functions/_local/${script}`, "--", ...args], {
    DATABASE_URL: Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!,
    ...env,
  });
}

function bootstrapEnv(email: string, password = defaultPassword) {
  return { LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: email, LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: password };
}

async function accountsWithEmail(email: string) {
  return await withDatabase((sql) =>
    sql<{ id: string; role: string; created_by_bootstrap: boolean }[]>`
      select id, role, created_by_bootstrap from latchkey.users
      where lower(email) = lower(${email})`
  );
}

Deno.test("the seed creates the first admin once; the second run changes nothing", async () => {
  const email = uniqueEmail("seed-admin");
  const first = await runTask("seed.ts", [], bootstrapEnv(email));
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /created/);
  const second = await runTask("seed.ts", [], bootstrapEnv(email, "a different password"));
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /exists, nothing changed/);

  const accounts = await accountsWithEmail(email);
  assert.equal(accounts.length, 1);
  assert.equal(accounts[0].role, "admin");
  assert.equal((await signIn(email, defaultPassword)).status, 200, "the first password stands");
  const [{ count }] = await withDatabase((sql) =>
    sql`select count(*)::int as count from latchkey.audit_events
        where action = 'bootstrap.admin_created' and target_id = ${accounts[0].id}`
  );
  assert.equal(count, 1);
});

Deno.test("the seed accepts an argon2id hash instead of a password", async () => {
  const email = uniqueEmail("seed-hash");
  const result = await runTask("seed.ts", [], {
    LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: email,
    LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD_HASH: await hashPassword("hashed elsewhere 123"),
  });
  assert.equal(result.code, 0, result.stderr);
  const session = await signIn(email, "hashed elsewhere 123");
  assert.equal(session.status, 200);
  assert.equal(session.body.user.role, "admin");
});

Deno.test("a stranger who signed up with the bootstrap email first is not made admin", async () => {
  const stranger = await signUp("stranger-first");
  const refused = await runTask("seed.ts", [], bootstrapEnv(stranger.email));
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /refusing to make .* an admin/);
  assert.match(refused.stderr, /--promote-existing/);
  assert.equal((await accountsWithEmail(stranger.email))[0].role, "user");
  assert.equal((await call("GET", "/auth/session", { token: stranger.token })).status, 200);

  // The operator says the account is theirs: promoted, audited, sessions revoked.
  const promoted = await runTask("seed.ts", ["--promote-existing"], bootstrapEnv(stranger.email));
  assert.equal(promoted.code, 0, promoted.stderr);
  assert.match(promoted.stdout, /promoted/);
  assert.equal((await accountsWithEmail(stranger.email))[0].role, "admin");
  assert.equal((await call("GET", "/auth/session", { token: stranger.token })).status, 401);
  const [event] = await withDatabase((sql) =>
    sql`select actor_kind, metadata from latchkey.audit_events
        where action = 'bootstrap.user_promoted' and target_id = ${stranger.id}`
  );
  assert.equal(event.actor_kind, "system");
  assert.deepEqual(event.metadata.after, { role: "admin" });
});

Deno.test("sign-up with the reserved bootstrap email is refused and creates nothing", async () => {
  const reserved = Deno.env.get("LATCHKEY_TEST_BOOTSTRAP_EMAIL")!;
  for (const email of [reserved, reserved.toUpperCase()]) {
    const result = await call("POST", "/auth/sign-up/email", {
      body: { name: "Stranger", email, password: "stranger password 1" },
    });
    assert.equal(result.status, 409);
    assert.equal(result.body.error.code, "email_unavailable");
  }
  assert.equal((await accountsWithEmail(reserved)).length, 1, "only the seeded admin");
});

Deno.test("promote task and latchkey.promote_user: audited, sessions revoked", async () => {
  const user = await signUp("promote-me");
  const result = await runTask("promote.ts", [user.email, "--role", "support"]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /now support/);
  assert.equal((await call("GET", "/auth/session", { token: user.token })).status, 401);
  const again = await signIn(user.email, user.password);
  assert.equal(again.body.user.role, "support");

  await withDatabase((sql) => sql`select latchkey.promote_user(${user.email}, 'admin')`);
  assert.equal((await accountsWithEmail(user.email))[0].role, "admin");
  const events = await withDatabase((sql) =>
    sql`select count(*)::int as count from latchkey.audit_events
        where action = 'bootstrap.user_promoted' and target_id = ${user.id}`
  );
  assert.equal(events[0].count, 2);

  const unknown = await runTask("promote.ts", ["nobody-at-all@example.test"]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no user with email/);
});

Deno.test("bootstrap writes a new admin key to a 0600 file and prints only its id and prefix", async () => {
  const name = `tf-${crypto.randomUUID().slice(0, 8)}`;
  const dir = await Deno.makeTempDir();
  const out = `${dir}/key.txt`;
  try {
    const first = await runTask("bootstrap.ts", ["--service-account", name, "--out", out]);
    assert.equal(first.code, 0, first.stderr);
    const key = (await Deno.readTextFile(out)).trim();
    assert.match(key, /^lk_[0-9A-Za-z]{49}$/);
    assert.equal((await Deno.stat(out)).mode! & 0o777, 0o600);
    assert.ok(!first.stdout.includes(key), "the key is never printed");
    assert.match(first.stdout, new RegExp(key.slice(0, 12)));

    const verified = await verifyKey(key, "users:write");
    assert.equal(verified.body.code, "VALID");
    const users = await call("GET", "/admin/users?limit=1", { token: key });
    assert.equal(users.status, 200);

    // Safe to re-run: the same service account, a new key (the file is replaced).
    await Deno.writeTextFile(out, "old", { mode: 0o644 });
    await Deno.chmod(out, 0o644);
    const second = await runTask("bootstrap.ts", ["--service-account", name, "--out", out]);
    assert.equal(second.code, 0, second.stderr);
    const secondKey = (await Deno.readTextFile(out)).trim();
    assert.notEqual(secondKey, key);
    assert.equal((await Deno.stat(out)).mode! & 0o777, 0o600);
    assert.equal((await verifyKey(secondKey)).body.userId, verified.body.userId);
    const accounts = await accountsWithEmail(`${name}@service-accounts.latchkey.invalid`);
    assert.equal(accounts.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
