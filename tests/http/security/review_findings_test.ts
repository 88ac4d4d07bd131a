import assert from "node:assert/strict";
import {
  adminKey,
  asAdminKey,
  call,
  createAccount,
  createKey,
  errorOf,
  signIn,
  signUp,
  testClient,
  uniqueEmail,
  verifyKey,
  withDatabase,
} from "../../support/http.ts";

/**
 * The attacker's review of 2026-11-24, one regression test per finding over HTTP (the database
 * side is in tests/db/caller_and_reach_test.sql). Each failed on the code before the fix.
 */

const supportScopes = ["users:read", "keys:read", "keys:revoke", "sessions:revoke", "audit:read"];
const allAdminScopes = [...supportScopes, "users:write", "keys:write", "roles:write"];

async function keyCount(userId: string): Promise<number> {
  return await withDatabase(async (sql) => {
    const [{ count }] = await sql<{ count: number }[]>`
      select count(*)::int as count from latchkey.api_keys where user_id = ${userId}`;
    return count;
  });
}

Deno.test("1: a keys:write-only key cannot mint keys with powers it does not hold", async () => {
  const admin = await createAccount("admin", "mint-owner");
  const otherAdmin = await createAccount("admin", "mint-other");
  const { key } = await createKey(admin.token, { name: "keys only", scopes: ["keys:write"] });
  const before = await keyCount(admin.id);

  const escalation = await call("POST", "/admin/keys", {
    token: key,
    body: { userId: admin.id, scopes: ["users:read", "users:write", "roles:write", "audit:read"] },
  });
  assert.equal(escalation.status, 403);
  assert.match(errorOf(escalation).message, /lacks users:read, users:write, roles:write/);
  assert.equal(await keyCount(admin.id), before, "no key was made");

  // Even an application key for another admin is a way into that account: roles:write too.
  const intoOther = await call("POST", "/admin/keys", {
    token: key,
    body: { userId: otherAdmin.id, scopes: ["compile"] },
  });
  assert.equal(intoOther.status, 403);
  assert.match(errorOf(intoOther).message, /lacks .*roles:write/);

  const forUser = await call("POST", "/admin/keys", {
    token: key,
    body: { userId: (await signUp("mint-user")).id, scopes: ["compile"] },
  });
  assert.equal(forUser.status, 201);
  const forItself = await call("POST", "/admin/keys", {
    token: key,
    body: { userId: admin.id, scopes: ["keys:write"] },
  });
  assert.equal(forItself.status, 201, "what it holds, it may pass on");
});

Deno.test("2: a users:write key without roles:write cannot take over an admin", async () => {
  const owner = await createAccount("admin", "takeover-owner");
  const victim = await createAccount("admin", "takeover-victim");
  const { key } = await createKey(owner.token, {
    name: "user admin",
    scopes: ["users:read", "users:write"],
  });
  const attempts: [string, string, unknown?][] = [
    ["POST", `/admin/users/${victim.id}/password`, { newPassword: "taken over by a key" }],
    ["POST", `/admin/users/${owner.id}/password`, { newPassword: "taken over by a key" }],
    ["PATCH", `/admin/users/${victim.id}`, { banned: true }],
    ["PATCH", `/admin/users/${victim.id}`, { name: "Renamed" }],
    ["DELETE", `/admin/users/${victim.id}`],
  ];
  for (const [method, path, body] of attempts) {
    const result = await call(method, path, { token: key, body });
    assert.equal(result.status, 403, `${method} ${path}`);
    assert.match(errorOf(result).message, /role admin .* lacks .*\bkeys:read\b/);
  }
  assert.equal((await signIn(victim.email, victim.password)).status, 200, "the password held");

  // The same key still manages plain users, and cannot lift one above itself.
  const user = await signUp("takeover-user");
  const reset = await call("POST", `/admin/users/${user.id}/password`, {
    token: key,
    body: { newPassword: "reset by the user admin key" },
  });
  assert.equal(reset.status, 200);
  const { key: roleKey } = await createKey(owner.token, {
    name: "roles",
    scopes: ["users:read", "users:write", "roles:write"],
  });
  const promote = await call("PATCH", `/admin/users/${user.id}`, {
    token: roleKey,
    body: { role: "admin" },
  });
  assert.equal(promote.status, 403);
  assert.match(errorOf(promote).message, /Giving a role on an account with role admin/);
  const create = await call("POST", "/admin/users", {
    token: roleKey,
    body: {
      email: uniqueEmail("made-admin"),
      name: "Made",
      password: "a long password",
      role: "admin",
    },
  });
  assert.equal(create.status, 403);
});

Deno.test("2: support cannot sign out an admin or revoke an admin's key, but can a user's", async () => {
  const support = await createAccount("support", "reach-support");
  const admin = await createAccount("admin", "reach-admin");
  const adminApiKey = await createKey(admin.token, { name: "admin's", scopes: allAdminScopes });

  const signOut = await call("DELETE", `/admin/users/${admin.id}/sessions`, {
    token: support.token,
  });
  assert.equal(signOut.status, 403);
  for (const missing of ["users:write", "keys:write", "roles:write"]) {
    assert.match(errorOf(signOut).message, new RegExp(`lacks .*\\b${missing}\\b`));
  }
  const revoke = await call("POST", `/admin/keys/${adminApiKey.id}/revoke`, {
    token: support.token,
  });
  assert.equal(revoke.status, 403);
  assert.equal((await call("GET", "/auth/session", { token: admin.token })).status, 200);
  assert.equal((await verifyKey(adminApiKey.key)).body.code, "VALID");

  const user = await signUp("reach-user");
  const userKey = await createKey(user.token);
  assert.equal(
    (await call("DELETE", `/admin/users/${user.id}/sessions`, { token: support.token })).status,
    200,
  );
  assert.equal(
    (await call("POST", `/admin/keys/${userKey.id}/revoke`, { token: support.token })).status,
    200,
  );
  assert.equal((await verifyKey(userKey.key)).body.code, "REVOKED");
});

Deno.test("6: self-service keys are capped: rate limit and active keys, by tier", async () => {
  const user = await signUp("caps");
  const tooFast = await call("POST", "/keys", {
    token: user.token,
    body: { name: "fast", rateLimitPerMinute: 1_000_000 },
  });
  assert.equal(tooFast.status, 400);
  assert.deepEqual(errorOf(tooFast).details?.map((detail) => detail.path), ["rateLimitPerMinute"]);
  assert.match(errorOf(tooFast).details![0].message, /At most 600/);

  // The test server caps tier `capped` at 3 keys and 100 a minute (tests/run.ts).
  const tiered = await asAdminKey("PATCH", `/admin/users/${user.id}`, { body: { tier: "capped" } });
  assert.equal(tiered.status, 200);
  const attempts = await Promise.all(
    Array.from(
      { length: 8 },
      (_, i) => call("POST", "/keys", { token: user.token, body: { name: `parallel ${i}` } }),
    ),
  );
  const statuses = attempts.map((attempt) => attempt.status).sort();
  assert.deepEqual(statuses, [201, 201, 201, 409, 409, 409, 409, 409]);
  const refused = attempts.find((attempt) => attempt.status === 409)!;
  assert.equal(errorOf(refused).code, "key_limit_reached");
  assert.equal(
    (await call("POST", "/keys", {
      token: user.token,
      body: { name: "x", rateLimitPerMinute: 101 },
    }))
      .status,
    400,
  );

  // Revoking one frees a place; expired keys do not count.
  const made = attempts.find((attempt) => attempt.status === 201)!.body;
  assert.equal((await call("DELETE", `/keys/${made.id}`, { token: user.token })).status, 200);
  assert.equal(
    (await call("POST", "/keys", { token: user.token, body: { name: "again" } })).status,
    201,
  );
});

Deno.test("7: an API key revokes only itself; the sessions list needs a session", async () => {
  const owner = await signUp("sibling");
  const first = await createKey(owner.token, { name: "first" });
  const second = await createKey(owner.token, { name: "second" });

  const sibling = await call("DELETE", `/keys/${second.id}`, {
    headers: { "x-api-key": first.key },
  });
  assert.equal(sibling.status, 403);
  assert.equal(errorOf(sibling).code, "interactive_session_required");
  assert.equal((await verifyKey(second.key)).body.code, "VALID");
  const unknown = await call("DELETE", `/keys/${crypto.randomUUID()}`, {
    headers: { "x-api-key": first.key },
  });
  assert.equal(unknown.status, 404, "an id that is not the owner's stays a 404");

  const itself = await call("DELETE", `/keys/${first.id}`, { headers: { "x-api-key": first.key } });
  assert.equal(itself.status, 200);
  assert.equal((await verifyKey(first.key)).body.code, "REVOKED");

  const sessions = await call("GET", "/auth/sessions", { headers: { "x-api-key": second.key } });
  assert.equal(sessions.status, 403);
  assert.equal(errorOf(sessions).code, "interactive_session_required");
  assert.equal((await call("GET", "/auth/sessions", { token: owner.token })).status, 200);
});

Deno.test("8: the service-account domain is reserved from sign-up and the admin API", async () => {
  const email = `squatter-${crypto.randomUUID().slice(0, 8)}@service-accounts.latchkey.invalid`;
  const signUpResult = await call("POST", "/auth/sign-up/email", {
    body: { name: "Squatter", email, password: "a long enough password" },
  });
  assert.equal(signUpResult.status, 409);
  assert.equal(errorOf(signUpResult).code, "email_unavailable");
  for (
    const body of [
      { email, name: "Squatter", password: "a long enough password" },
      { email, name: "Squatter", serviceAccount: true },
    ]
  ) {
    const created = await asAdminKey("POST", "/admin/users", { body });
    assert.equal(created.status, 400);
    assert.deepEqual(errorOf(created).details?.map((detail) => detail.path), ["email"]);
  }
});

Deno.test("9: wrong X-Admin-Key guesses are throttled per client and audited once", async () => {
  const guesser = testClient();
  const bystander = testClient();
  const statuses: number[] = [];
  for (let i = 0; i < 12; i++) {
    const result = await call("GET", "/admin/users?limit=1", {
      headers: { ...guesser, "x-admin-key": `guess-${i}-${crypto.randomUUID()}` },
    });
    statuses.push(result.status);
  }
  // The default limit is 10 in 15 minutes: the tenth guess is the last answered 401.
  assert.deepEqual(statuses, [...Array(9).fill(401), 429, 429, 429]);
  const right = await call("GET", "/admin/users?limit=1", {
    headers: { ...guesser, "x-admin-key": adminKey },
  });
  assert.equal(right.status, 429, "a throttled client learns nothing, not even from the right key");
  assert.ok(Number(right.headers.get("retry-after")) > 0);
  assert.equal(errorOf(right).code, "too_many_requests");
  const other = await call("GET", "/admin/users?limit=1", {
    headers: { ...bystander, "x-admin-key": adminKey },
  });
  assert.equal(other.status, 200, "another client is not affected");

  const events = await withDatabase((sql) =>
    sql<{ ip_address: string; metadata: { client: string } }[]>`
      select ip_address, metadata from latchkey.audit_events
      where action = 'admin_key.rejected' and ip_address = ${guesser["x-forwarded-for"]}`
  );
  assert.equal(events.length, 1, "a burst is audited once a minute");
  assert.equal(events[0].metadata.client, guesser["x-forwarded-for"]);
});

Deno.test("9: the client is the trusted proxy's entry, not what the client wrote first", async () => {
  const spoofed = await call("GET", "/admin/users?limit=1", {
    headers: { "x-forwarded-for": "203.0.113.66, 198.51.100.200", "x-admin-key": "wrong-key" },
  });
  assert.equal(spoofed.status, 401);
  const [event] = await auditOf(errorOf(spoofed).requestId);
  assert.equal(event.ip_address, "198.51.100.200");
});

async function auditOf(requestId: string) {
  return await withDatabase((sql) =>
    sql<{ ip_address: string }[]>`
      select ip_address from latchkey.audit_events where request_id = ${requestId}`
  );
}

Deno.test("10: an error lists at most 20 details and says how many it left out", async () => {
  const body = Object.fromEntries(
    Array.from({ length: 5000 }, (_, i) => [`f${i}`, 0]),
  );
  const response = await fetch(
    `${Deno.env.get("LATCHKEY_TEST_BASE_URL")}/functions/v1/auth/sign-up/email`,
    {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        name: "N",
        email: uniqueEmail("many"),
        password: "long enough pw",
        ...body,
      }),
    },
  );
  const text = await response.text();
  assert.equal(response.status, 400);
  assert.ok(text.length < 4096, `answer of ${text.length} bytes`);
  const details = JSON.parse(text).error.details as { path: string; message: string }[];
  assert.equal(details.length, 20);
  assert.equal(details.at(-1)!.path, "(more)");
  assert.match(details.at(-1)!.message, /^4981 more problems/);
});
