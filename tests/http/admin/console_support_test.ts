import assert from "node:assert/strict";
import {
  adminPermissions,
  isAdminPermission,
} from "../../../functions/_shared/ground/principal.ts";
import { seededRolePermissions } from "../../support/roles.ts";
import { expectedSchemaVersion } from "../../../functions/_shared/ground/version.ts";
import {
  asAdminKey,
  call,
  createAccount,
  createKey,
  issueKey,
  signIn,
  signUp,
  withDatabase,
} from "../../support/http.ts";

/** What the console reads besides the lists: permissions, the banned filter, the warnings. */

Deno.test("GET /auth/session names the permissions the credential carries now", async () => {
  const support = await createAccount("support", "console-support");
  const bySession = await call("GET", "/auth/session", { token: support.token });
  assert.equal(bySession.status, 200);
  // The role's set as the database holds it, by name.
  assert.deepEqual(bySession.body.permissions, [...seededRolePermissions.support].sort());
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

Deno.test("GET /admin/users/:id says which of the caller's permissions reach that account", async () => {
  const support = await createAccount("support", "reach-support");
  const otherSupport = await createAccount("support", "reach-support-2");
  const admin = await createAccount("admin", "reach-admin");
  const person = await signUp("reach-person");
  const callerMay = async (token: string, id: string) => {
    const answer = await call("GET", `/admin/users/${id}`, { token });
    assert.equal(answer.status, 200);
    return answer.body.callerMay;
  };
  const supportPermissions = [...seededRolePermissions.support].sort();
  // Support reads an admin, and changes nothing there: the API refuses what is not listed.
  assert.deepEqual(await callerMay(support.token, admin.id), [
    "audit:read",
    "keys:read",
    "orgs:read",
    "roles:read",
    "users:read",
  ]);
  const refused = await call("DELETE", `/admin/users/${admin.id}/sessions`, {
    token: support.token,
  });
  assert.equal(refused.status, 403);
  assert.deepEqual(await callerMay(support.token, person.id), supportPermissions);
  assert.deepEqual(await callerMay(support.token, otherSupport.id), supportPermissions);
  const everything = (await asAdminKey("GET", `/admin/users/${admin.id}`)).body.callerMay;
  // Latchkey's own, and whatever of the team's the catalogue holds now (admin holds them too).
  assert.deepEqual(everything.filter(isAdminPermission).toSorted(), [...adminPermissions].sort());
  assert.deepEqual(await callerMay(admin.token, admin.id), everything);
});

Deno.test("GET /admin/audit?subject= finds the events about a user, their keys and sessions", async () => {
  const person = await signUp("subject-person");
  const stranger = await signUp("subject-stranger");
  const key = await createKey(person.token, { name: "subject key" });
  assert.equal((await call("DELETE", `/keys/${key.id}`, { token: person.token })).status, 200);
  const second = await signIn(person.email, person.password);
  const sessionId = second.body.session.id;
  const signOut = await call("POST", "/auth/sign-out", { token: second.body.session.token });
  assert.equal(signOut.status, 200);
  const support = await createAccount("support", "subject-support");

  type Event = {
    action: string;
    targetId: string;
    actorUserId: string | null;
    actorEmail: string | null;
    targetEmail: string | null;
  };
  const events = async (query: string, token = support.token): Promise<Event[]> => {
    const answer = await call("GET", `/admin/audit?${query}&limit=200`, { token });
    assert.equal(answer.status, 200);
    return answer.body.events;
  };
  const about = await events(`subject=${person.id}`);
  const actions = about.map((event) => event.action).sort();
  for (const action of ["api_key.created", "api_key.revoked", "auth.sign_out", "auth.sign_up"]) {
    assert.ok(actions.includes(action), `${action} in ${actions}`);
  }
  for (const event of about) {
    assert.ok([person.id, key.id, sessionId].includes(event.targetId), JSON.stringify(event));
  }
  assert.ok(!about.some((event) => event.targetId === stranger.id));
  // targetId alone misses the key's events, filed under the key's id.
  const byTarget = await events(`targetId=${person.id}`);
  assert.ok(!byTarget.some((event) => event.action === "api_key.created"));

  // Who acted, by email; a user target by email too.
  const created = about.find((event) => event.action === "api_key.created")!;
  assert.equal(created.actorUserId, person.id);
  assert.equal(created.actorEmail, person.email);
  const signedUp = about.find((event) => event.action === "auth.sign_up")!;
  assert.equal(signedUp.targetEmail, person.email);

  // RLS still decides: a key that reads the audit log but neither keys nor users finds only
  // the events filed under the user, and no one else's email.
  const admin = await createAccount("admin", "subject-admin");
  const auditOnly = await issueKey(admin.id, { name: "audit only", scopes: ["audit:read"] });
  const narrow = await events(`subject=${person.id}`, auditOnly.key);
  assert.ok(narrow.length > 0);
  assert.ok(narrow.every((event) => event.targetId === person.id), JSON.stringify(narrow));
  assert.ok(narrow.every((event) => event.actorEmail === null && event.targetEmail === null));
});

Deno.test("GET /admin/audit/actions lists the actions events record", async () => {
  const support = await createAccount("support", "actions-support");
  const answer = await call("GET", "/admin/audit/actions", { token: support.token });
  assert.equal(answer.status, 200);
  const names = answer.body.actions.map((entry: { action: string }) => entry.action);
  assert.ok(names.includes("admin.user_updated"));
  assert.ok(names.includes("api_key.created"));
  assert.ok(!names.includes("admin.user_banned"), "bans are recorded as admin.user_updated");
  assert.deepEqual(names, [...names].sort());
  const person = await signUp("actions-person");
  assert.equal((await call("GET", "/admin/audit/actions", { token: person.token })).status, 403);
});

Deno.test("GET /admin/audit?subject= that is not a user id is a 400 naming the field", async () => {
  for (const subject of ["not-a-uuid", "'; drop table latchkey.users; --", ""]) {
    const query = new URLSearchParams({ subject });
    const result = await asAdminKey("GET", `/admin/audit?${query}`);
    assert.equal(result.status, 400, subject);
    assert.equal(result.body.error.code, "validation_failed");
    assert.deepEqual(
      result.body.error.details.map((detail: { path: string }) => detail.path),
      ["subject"],
    );
  }
});
