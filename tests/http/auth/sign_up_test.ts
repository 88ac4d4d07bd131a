import assert from "node:assert/strict";
import {
  auditEventsFor,
  call,
  defaultPassword,
  errorOf,
  uniqueEmail,
  withDatabase,
} from "../../support/http.ts";

Deno.test("sign-up creates a user with role user and tier free, and a working session", async () => {
  const email = uniqueEmail("signup");
  const result = await call("POST", "/auth/sign-up/email", {
    body: { name: "Ada", email, password: defaultPassword },
  });
  assert.equal(result.status, 200);
  const { user, session } = result.body;
  assert.deepEqual(Object.keys(user).sort(), [
    "createdAt",
    "email",
    "emailVerifiedAt",
    "id",
    "name",
    "role",
    "tier",
  ]);
  assert.equal(user.emailVerifiedAt, null);
  assert.equal(user.email, email);
  assert.equal(user.role, "user");
  assert.equal(user.tier, "free");
  assert.match(session.token, /^lks_[A-Za-z0-9_-]{43}$/);
  assert.ok(Date.parse(session.expiresAt) > Date.now() + 6 * 24 * 3600_000);
  assert.match(result.headers.get("set-cookie") ?? "", /latchkey\.session_token=lks_.*HttpOnly/i);
  assert.equal(result.headers.get("cache-control"), "no-store");

  const me = await call("GET", "/auth/session", { token: session.token });
  assert.equal(me.status, 200);
  assert.equal(me.body.user.id, user.id);

  const events = await auditEventsFor(result.headers.get("x-request-id")!);
  assert.deepEqual(events.map((event) => event.action), ["auth.sign_up"]);
  assert.equal(events[0].actor_user_id, user.id);
});

Deno.test("sign-up stores an argon2id hash and the token's SHA-256, never the secrets", async () => {
  const email = uniqueEmail("hashes");
  const result = await call("POST", "/auth/sign-up/email", {
    body: { name: "Hash", email, password: defaultPassword },
  });
  assert.equal(result.status, 200);
  const token: string = result.body.session.token;
  const [row] = await withDatabase((sql) =>
    sql`
      select u.password_hash, encode(s.token_hash, 'hex') as token_hash
      from latchkey.users u join latchkey.sessions s on s.user_id = u.id
      where u.id = ${result.body.user.id}`
  );
  assert.match(row.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  assert.ok(!row.password_hash.includes(defaultPassword));
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)),
  );
  assert.equal(row.token_hash, Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""));
});

Deno.test("sign-up refuses role and tier in the body and creates nothing", async () => {
  for (const extra of [{ role: "admin" }, { tier: "enterprise" }]) {
    const email = uniqueEmail("escalate");
    const result = await call("POST", "/auth/sign-up/email", {
      body: { name: "Mallory", email, password: defaultPassword, ...extra },
    });
    assert.equal(result.status, 400);
    const error = errorOf(result);
    assert.equal(error.code, "validation_failed");
    assert.deepEqual(error.details?.map((detail) => detail.path), Object.keys(extra));
    const [{ count }] = await withDatabase((sql) =>
      sql`select count(*)::int as count from latchkey.users where lower(email) = lower(${email})`
    );
    assert.equal(count, 0);
  }
});

Deno.test("sign-up validates every field and names the failing ones", async () => {
  const cases: [Record<string, unknown>, string[]][] = [
    [{ name: "A", email: uniqueEmail(), password: "short" }, ["password"]],
    [{ name: "A", email: uniqueEmail(), password: "x".repeat(257) }, ["password"]],
    [{ name: "A", email: "not-an-email", password: defaultPassword }, ["email"]],
    [{ email: uniqueEmail(), password: defaultPassword }, ["name"]],
    [{ name: 42, email: [], password: null }, ["name", "email", "password"]],
  ];
  for (const [body, paths] of cases) {
    const result = await call("POST", "/auth/sign-up/email", { body });
    assert.equal(result.status, 400, JSON.stringify(body));
    assert.deepEqual(errorOf(result).details?.map((detail) => detail.path).sort(), paths.sort());
  }
  const exactlyTen = await call("POST", "/auth/sign-up/email", {
    body: { name: "Ten", email: uniqueEmail(), password: "0123456789" },
  });
  assert.equal(exactlyTen.status, 200);
  const exactly256 = await call("POST", "/auth/sign-up/email", {
    body: { name: "Long", email: uniqueEmail(), password: "p".repeat(256) },
  });
  assert.equal(exactly256.status, 200);
});

Deno.test("sign-up with a taken email, in any case, answers 409 and creates nothing", async () => {
  const email = uniqueEmail("taken");
  const first = await call("POST", "/auth/sign-up/email", {
    body: { name: "First", email, password: defaultPassword },
  });
  assert.equal(first.status, 200);
  const second = await call("POST", "/auth/sign-up/email", {
    body: { name: "Second", email: email.toUpperCase(), password: "another password 123" },
  });
  assert.equal(second.status, 409);
  assert.equal(errorOf(second).code, "email_unavailable");
  const [{ count }] = await withDatabase((sql) =>
    sql`select count(*)::int as count from latchkey.users where lower(email) = lower(${email})`
  );
  assert.equal(count, 1);
});

Deno.test("sign-up answers malformed bodies with the error envelope", async () => {
  const notJson = await call("POST", "/auth/sign-up/email", {
    rawBody: "{not json",
    headers: { "content-type": "application/json" },
  });
  assert.equal(notJson.status, 400);
  assert.equal(errorOf(notJson).code, "invalid_json");

  const form = await call("POST", "/auth/sign-up/email", {
    rawBody: "email=a@b.c",
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });
  assert.equal(form.status, 415);
  assert.equal(errorOf(form).code, "unsupported_media_type");

  const empty = await call("POST", "/auth/sign-up/email", {});
  assert.equal(empty.status, 400);
  assert.equal(errorOf(empty).code, "validation_failed");

  const array = await call("POST", "/auth/sign-up/email", { body: [] });
  assert.equal(array.status, 400);
  assert.equal(errorOf(array).code, "validation_failed");

  const huge = await call("POST", "/auth/sign-up/email", {
    rawBody: JSON.stringify({ name: "x".repeat(70 * 1024) }),
    headers: { "content-type": "application/json" },
  });
  assert.equal(huge.status, 413);
  assert.equal(errorOf(huge).code, "payload_too_large");
});

Deno.test("a client's x-request-id is echoed, and a generated one otherwise", async () => {
  const echoed = await call("POST", "/auth/sign-up/email", {
    body: {},
    headers: { "x-request-id": "client-chosen-id-123" },
  });
  assert.equal(echoed.headers.get("x-request-id"), "client-chosen-id-123");
  assert.equal(errorOf(echoed).requestId, "client-chosen-id-123");
  const generated = await call("GET", "/version");
  assert.match(generated.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
});
