import assert from "node:assert/strict";
import { expectedSchemaVersion } from "../../../functions/_shared/ground/version.ts";
import {
  asAdminKey,
  call,
  createAccount,
  issueKey,
  signUp,
  withDatabase,
} from "../../support/http.ts";

/** What the console reads besides the lists: permissions, the banned filter, the warnings. */

Deno.test("GET /auth/session names the permissions the credential carries now", async () => {
  const support = await createAccount("support", "console-support");
  const bySession = await call("GET", "/auth/session", { token: support.token });
  assert.equal(bySession.status, 200);
  assert.deepEqual(bySession.body.permissions, [
    "users:read",
    "keys:read",
    "keys:revoke",
    "sessions:revoke",
    "audit:read",
  ]);
  const person = await signUp("console-person");
  assert.deepEqual(
    (await call("GET", "/auth/session", { token: person.token })).body.permissions,
    [],
  );

  // An admin's key scoped to one permission carries that one, not the role's.
  const admin = await createAccount("admin", "console-admin");
  const key = await issueKey(admin.id, { name: "reader", scopes: ["users:read"] });
  const byKey = await call("GET", "/auth/session", { token: key.key });
  assert.deepEqual(byKey.body.permissions, ["users:read"]);
  assert.equal(byKey.body.session, null);
});

Deno.test("GET /admin/users?banned= lists banned or unbanned people, with search too", async () => {
  const tag = `ban${crypto.randomUUID().slice(0, 8)}`;
  const banned = await signUp(tag);
  const kept = await signUp(tag);
  const ban = await asAdminKey("PATCH", `/admin/users/${banned.id}`, {
    body: { banned: true, banReason: "console test" },
  });
  assert.equal(ban.status, 200);
  const ids = async (query: string) =>
    (await asAdminKey("GET", `/admin/users?${query}`)).body.users.map((u: { id: string }) => u.id);
  assert.deepEqual(await ids(`q=${tag}&banned=true`), [banned.id]);
  assert.deepEqual(await ids(`q=${tag}&banned=false`), [kept.id]);
  assert.ok((await ids("banned=true&limit=200")).includes(banned.id));
  assert.ok(!(await ids("banned=false&limit=200")).includes(banned.id));
  const wrong = await asAdminKey("GET", "/admin/users?banned=yes");
  assert.equal(wrong.status, 400);
  assert.equal(wrong.body.error.details[0].path, "banned");
});

Deno.test("a password change is recorded by the database, whoever changes it", async () => {
  const person = await signUp("pw-changed");
  const changedAt = () =>
    withDatabase(async (sql) =>
      (await sql`select password_changed_at from latchkey.users where id = ${person.id}`)[0]
        .password_changed_at
    );
  assert.equal(await changedAt(), null);
  const set = await asAdminKey("POST", `/admin/users/${person.id}/password`, {
    body: { newPassword: "another long password" },
  });
  assert.equal(set.status, 200);
  assert.ok(await changedAt() instanceof Date);
});

Deno.test("GET /admin/warnings: the bootstrap password and the migrations, for users:read", async () => {
  const answer = await asAdminKey("GET", "/admin/warnings");
  assert.equal(answer.status, 200);
  const codes = answer.body.warnings.map((warning: { code: string }) => warning.code);
  // The suite's single LATCHKEY_ADMIN_KEY has no expiry; its name is shown here, not on health.
  assert.ok(codes.includes("admin_key_never_expires"), JSON.stringify(codes));
  assert.match(
    answer.body.warnings[codes.indexOf("admin_key_never_expires")].message,
    /"LATCHKEY_ADMIN_KEY"/,
  );
  // The database is migrated to the newest migration this code knows.
  assert.ok(!codes.includes("migrations_pending") && !codes.includes("migrations_unknown"));
  const newest = await withDatabase(async (sql) =>
    (await sql`select max(version) as v from supabase_migrations.schema_migrations`)[0].v
  );
  assert.equal(newest, expectedSchemaVersion);
  // The bootstrap admin's warning follows the database's record of its password.
  const onFirstPassword = await withDatabase(async (sql) =>
    (await sql`
      select exists (select from latchkey.users where created_by_bootstrap
        and not is_service_account and role = 'admin' and banned_at is null
        and password_hash is not null and password_changed_at is null) as yes`)[0].yes
  );
  assert.equal(codes.includes("bootstrap_admin_first_password"), onFirstPassword);

  const support = await createAccount("support", "warnings-support");
  assert.equal((await call("GET", "/admin/warnings", { token: support.token })).status, 200);
  const person = await signUp("warnings-person");
  assert.equal((await call("GET", "/admin/warnings", { token: person.token })).status, 403);
  assert.equal((await call("GET", "/admin/warnings")).status, 401);
});
