import assert from "node:assert/strict";
import {
  asAdminKey,
  auditEventsFor,
  call,
  createAccount,
  createKey,
  errorOf,
  signIn,
  signUp,
  uniqueEmail,
  verifyKey,
  withDatabase,
} from "../../support/http.ts";

Deno.test("POST /admin/users creates people and password-less service accounts", async () => {
  const admin = await createAccount("admin", "users-admin");
  const email = uniqueEmail("made-person");
  const person = await call("POST", "/admin/users", {
    token: admin.token,
    body: { email, name: "Person", password: "a password for them", tier: "pro" },
  });
  assert.equal(person.status, 201);
  assert.equal(person.body.user.email, email);
  assert.equal(person.body.user.role, "user");
  assert.equal(person.body.user.tier, "pro");
  assert.equal(person.body.user.isServiceAccount, false);
  assert.equal((await signIn(email, "a password for them")).status, 200);

  const service = await call("POST", "/admin/users", {
    token: admin.token,
    body: { email: uniqueEmail("made-svc"), name: "Terraform", serviceAccount: true },
  });
  assert.equal(service.status, 201);
  assert.equal(service.body.user.isServiceAccount, true);
  const [event] = await auditEventsFor(service.headers.get("x-request-id")!);
  assert.equal(event.action, "admin.user_created");
  assert.equal(event.actor_user_id, admin.id);
  assert.deepEqual((event.metadata as { after: unknown }).after, {
    email: service.body.user.email,
    role: "user",
    tier: "free",
    serviceAccount: true,
  });
});

Deno.test("POST /admin/users validates, refuses duplicates and needs roles:write for a role", async () => {
  const admin = await createAccount("admin", "users-validate");
  const cases: [Record<string, unknown>, string][] = [
    [{ email: uniqueEmail(), name: "No password" }, "password"],
    [{ email: uniqueEmail(), name: "S", serviceAccount: true, password: "0123456789" }, "password"],
    [{ email: uniqueEmail(), name: "R", password: "0123456789", role: "owner" }, "role"],
    [{ email: uniqueEmail(), name: "X", password: "0123456789", isAdmin: true }, "isAdmin"],
  ];
  for (const [body, path] of cases) {
    const result = await call("POST", "/admin/users", { token: admin.token, body });
    assert.equal(result.status, 400, JSON.stringify(body));
    assert.deepEqual(errorOf(result).details?.map((detail) => detail.path), [path]);
  }
  const existing = await signUp("users-dup");
  const duplicate = await call("POST", "/admin/users", {
    token: admin.token,
    body: { email: existing.email.toUpperCase(), name: "Dup", serviceAccount: true },
  });
  assert.equal(duplicate.status, 409);

  const { key } = await createKey(admin.token, { name: "no roles", scopes: ["users:write"] });
  const promote = await call("POST", "/admin/users", {
    token: key,
    body: { email: uniqueEmail(), name: "Boss", password: "0123456789", role: "admin" },
  });
  assert.equal(promote.status, 403);
  assert.match(errorOf(promote).message, /roles:write/);
});

Deno.test("GET /admin/users/:id shows account state; odd and unknown ids are 404", async () => {
  const target = await signUp("users-get");
  const result = await asAdminKey("GET", `/admin/users/${target.id}`);
  assert.equal(result.status, 200);
  assert.equal(result.body.user.id, target.id);
  assert.equal(result.body.user.bannedAt, null);
  assert.equal(result.body.user.banReason, null);
  assert.equal(result.body.user.lastSignInAt, null);
  for (const id of ["00000000-0000-4000-8000-000000000000", "nope"]) {
    assert.equal((await asAdminKey("GET", `/admin/users/${id}`)).status, 404);
  }
});

Deno.test("PATCH changes name, tier and role, auditing before and after", async () => {
  const admin = await createAccount("admin", "patch-admin");
  const target = await signUp("patch-target");
  const result = await call("PATCH", `/admin/users/${target.id}`, {
    token: admin.token,
    body: { name: "Renamed", tier: "pro", role: "support" },
    headers: { "user-agent": "latchkey-tests/1" },
  });
  assert.equal(result.status, 200);
  assert.equal(result.body.user.name, "Renamed");
  assert.equal(result.body.user.tier, "pro");
  assert.equal(result.body.user.role, "support");
  const [event] = await withDatabase((sql) =>
    sql`select action, actor_user_id, target_id, metadata, user_agent, ip_address
        from latchkey.audit_events where request_id = ${result.headers.get("x-request-id")}`
  );
  assert.equal(event.action, "admin.user_updated");
  assert.equal(event.actor_user_id, admin.id);
  assert.equal(event.target_id, target.id);
  assert.equal(event.user_agent, "latchkey-tests/1");
  assert.ok(event.ip_address);
  assert.deepEqual(event.metadata.before, {
    name: "Test patch-target",
    role: "user",
    tier: "free",
    banned: false,
    credits: null,
  });
  assert.deepEqual(event.metadata.after, {
    name: "Renamed",
    role: "support",
    tier: "pro",
    banned: false,
    credits: null,
  });

  const empty = await call("PATCH", `/admin/users/${target.id}`, { token: admin.token, body: {} });
  assert.equal(empty.status, 400);
});

Deno.test("banning revokes sessions and makes keys OWNER_BANNED at once; unbanning restores keys", async () => {
  const target = await signUp("ban-target");
  const { key } = await createKey(target.token);
  const ban = await asAdminKey("PATCH", `/admin/users/${target.id}`, {
    body: { banned: true, banReason: "abuse" },
  });
  assert.equal(ban.status, 200);
  assert.ok(ban.body.user.bannedAt);
  assert.equal(ban.body.user.banReason, "abuse");
  assert.equal((await call("GET", "/auth/session", { token: target.token })).status, 401);
  assert.equal((await verifyKey(key)).body.code, "OWNER_BANNED");
  assert.equal((await signIn(target.email, target.password)).status, 403);
  const banEvents = await auditEventsFor(ban.headers.get("x-request-id")!);
  assert.deepEqual(banEvents.map((event) => event.action), [
    "admin_key.used",
    "admin.user_updated",
  ]);
  const banEvent = banEvents[1];
  assert.equal((banEvent.metadata as { revokedSessions: number }).revokedSessions, 1);
  assert.equal(banEvent.actor_kind, "admin_key");

  const unban = await asAdminKey("PATCH", `/admin/users/${target.id}`, { body: { banned: false } });
  assert.equal(unban.status, 200);
  assert.equal(unban.body.user.bannedAt, null);
  assert.equal(unban.body.user.banReason, null);
  assert.equal((await verifyKey(key)).body.code, "VALID");
  assert.equal((await call("GET", "/auth/session", { token: target.token })).status, 401);
});

Deno.test("setting a password revokes the user's sessions; the new password works", async () => {
  const target = await signUp("setpw-target");
  const result = await asAdminKey("POST", `/admin/users/${target.id}/password`, {
    body: { newPassword: "chosen by the admin" },
  });
  assert.equal(result.status, 200);
  assert.equal((await call("GET", "/auth/session", { token: target.token })).status, 401);
  assert.equal((await signIn(target.email, target.password)).status, 401);
  assert.equal((await signIn(target.email, "chosen by the admin")).status, 200);
  const short = await asAdminKey("POST", `/admin/users/${target.id}/password`, {
    body: { newPassword: "short" },
  });
  assert.equal(short.status, 400);
  const service = await asAdminKey("POST", "/admin/users", {
    body: { email: uniqueEmail("setpw-svc"), name: "svc", serviceAccount: true },
  });
  const refused = await asAdminKey("POST", `/admin/users/${service.body.user.id}/password`, {
    body: { newPassword: "services have none" },
  });
  assert.equal(refused.status, 400);
  assert.match(errorOf(refused).message, /Service accounts have no password/);
});

Deno.test("deleting a user deletes their keys and sessions, and is audited", async () => {
  const target = await signUp("delete-target");
  const { key, id: keyId } = await createKey(target.token);
  const result = await asAdminKey("DELETE", `/admin/users/${target.id}`);
  assert.equal(result.status, 200);
  assert.deepEqual(result.body, { success: true });
  assert.equal((await verifyKey(key)).body.code, "NOT_FOUND");
  assert.equal((await call("GET", "/auth/session", { token: target.token })).status, 401);
  const [{ count }] = await withDatabase((sql) =>
    sql`select count(*)::int as count from latchkey.api_keys where id = ${keyId}`
  );
  assert.equal(count, 0);
  assert.equal((await asAdminKey("DELETE", `/admin/users/${target.id}`)).status, 404);
  const events = await auditEventsFor(result.headers.get("x-request-id")!);
  assert.ok(events.some((event) => event.action === "admin.user_deleted"));
});

Deno.test("the last active admin cannot be demoted, banned or deleted (409)", async () => {
  const last = await createAccount("admin", "last-admin");
  // Make `last` the only active admin for the length of this test.
  const others = await withDatabase((sql) =>
    sql<{ id: string }[]>`
      update latchkey.users set banned_at = now()
      where role = 'admin' and banned_at is null and id <> ${last.id}
      returning id`
  );
  try {
    for (
      const [method, body] of [
        ["PATCH", { role: "user" }],
        ["PATCH", { banned: true }],
        ["DELETE", undefined],
      ] as const
    ) {
      const result = await call(method, `/admin/users/${last.id}`, { token: last.token, body });
      assert.equal(result.status, 409, `${method} ${JSON.stringify(body)}`);
      assert.equal(errorOf(result).code, "last_admin");
    }
    const still = await asAdminKey("GET", `/admin/users/${last.id}`);
    assert.equal(still.body.user.role, "admin");
    assert.equal(still.body.user.bannedAt, null);
  } finally {
    await withDatabase((sql) =>
      sql`update latchkey.users set banned_at = null where id = any(${others.map((o) => o.id)})`
    );
  }
});

Deno.test("GET and DELETE /admin/users/:id/sessions list and revoke a user's sessions", async () => {
  const support = await createAccount("support", "sessions-support");
  const target = await signUp("sessions-target");
  await signIn(target.email, target.password);
  const list = await call("GET", `/admin/users/${target.id}/sessions`, { token: support.token });
  assert.equal(list.status, 200);
  assert.equal(list.body.sessions.length, 2);
  assert.ok(!JSON.stringify(list.body).includes(target.token));
  const revoke = await call("DELETE", `/admin/users/${target.id}/sessions`, {
    token: support.token,
  });
  assert.deepEqual(revoke.body, { success: true, revoked: 2 });
  assert.equal((await call("GET", "/auth/session", { token: target.token })).status, 401);
  // An unknown user is a 404 for both, not an empty success (the Postman contract run found it).
  const nobody = crypto.randomUUID();
  for (const method of ["GET", "DELETE"]) {
    const missing = await call(method, `/admin/users/${nobody}/sessions`, { token: support.token });
    assert.equal(missing.status, 404, method);
    assert.equal(errorOf(missing).code, "not_found");
  }
});

Deno.test("demoting a key's owner takes its admin power away on the very next request", async () => {
  const owner = await createAccount("admin", "demoted");
  const { key } = await createKey(owner.token, { name: "k", scopes: ["users:read"] });
  assert.equal((await call("GET", "/admin/users?limit=1", { token: key })).status, 200);
  const demote = await asAdminKey("PATCH", `/admin/users/${owner.id}`, { body: { role: "user" } });
  assert.equal(demote.status, 200);
  const after = await call("GET", "/admin/users?limit=1", { token: key });
  assert.equal(after.status, 403);
  assert.deepEqual((await verifyKey(key)).body.scopes, []);
});
