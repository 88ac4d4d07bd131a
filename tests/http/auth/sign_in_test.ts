import assert from "node:assert/strict";
import {
  auditEventsFor,
  call,
  errorOf,
  signIn,
  signUp,
  testClient,
  uniqueEmail,
} from "../../support/http.ts";

Deno.test("sign-in returns the user and a new session token, also as a cookie", async () => {
  const account = await signUp("signin");
  const result = await signIn(account.email.toUpperCase(), account.password);
  assert.equal(result.status, 200);
  assert.equal(result.body.user.id, account.id);
  assert.notEqual(result.body.session.token, account.token, "every sign-in gets a new token");
  const cookie = result.headers.get("set-cookie") ?? "";
  assert.match(cookie, new RegExp(`latchkey\\.session_token=${result.body.session.token}`));
  assert.match(cookie, /HttpOnly/i);
  assert.match(cookie, /SameSite=Lax/i);

  const viaCookie = await call("GET", "/auth/session", {
    headers: { cookie: `latchkey.session_token=${result.body.session.token}` },
  });
  assert.equal(viaCookie.status, 200);
  assert.equal(viaCookie.body.session.id, result.body.session.id);

  const events = await auditEventsFor(result.headers.get("x-request-id")!);
  assert.deepEqual(events.map((event) => event.action), ["auth.sign_in"]);
  assert.equal(events[0].actor_credential_id, result.body.session.id);
});

Deno.test("a wrong password and an unknown email get the same answer, and are audited", async () => {
  const account = await signUp("wrongpw");
  const wrong = await signIn(account.email, "not the password at all");
  const unknown = await signIn(uniqueEmail("nobody"), "not the password at all");
  assert.equal(wrong.status, 401);
  assert.equal(unknown.status, 401);
  assert.equal(errorOf(wrong).code, "invalid_credentials");
  assert.equal(errorOf(wrong).message, errorOf(unknown).message);
  assert.equal(errorOf(wrong).code, errorOf(unknown).code);
  assert.match(wrong.headers.get("www-authenticate") ?? "", /^Bearer/);

  const [wrongEvent] = await auditEventsFor(wrong.headers.get("x-request-id")!);
  assert.equal(wrongEvent.action, "auth.sign_in_failed");
  assert.equal(wrongEvent.target_id, account.id);
  assert.deepEqual(wrongEvent.metadata, { reason: "wrong_password" });
  const [unknownEvent] = await auditEventsFor(unknown.headers.get("x-request-id")!);
  assert.deepEqual(unknownEvent.metadata, { reason: "unknown_email" });
  assert.equal(unknownEvent.target_id, null);
});

Deno.test("ten failed sign-ins for one email from one client answer 429 to it, even for the right password", async () => {
  const account = await signUp("throttle");
  const guesser = testClient();
  for (let attempt = 1; attempt <= 10; attempt++) {
    const result = await signIn(account.email, `wrong password ${attempt}`, guesser);
    assert.equal(result.status, 401, `attempt ${attempt}`);
  }
  const throttled = await signIn(account.email.toUpperCase(), account.password, guesser);
  assert.equal(throttled.status, 429);
  assert.equal(errorOf(throttled).code, "too_many_requests");
  const retryAfter = Number(throttled.headers.get("retry-after"));
  assert.ok(retryAfter > 0 && retryAfter <= 15 * 60, `Retry-After ${retryAfter}`);

  // Another email is not affected, and the owner on another client is not locked out.
  const other = await signUp("throttle-other");
  assert.equal((await signIn(other.email, other.password, guesser)).status, 200);
  assert.equal((await signIn(account.email, account.password)).status, 200);
});

Deno.test("a successful sign-in clears earlier failures", async () => {
  const account = await signUp("reset");
  for (let attempt = 1; attempt <= 9; attempt++) {
    assert.equal((await signIn(account.email, "wrong password!")).status, 401);
  }
  assert.equal((await signIn(account.email, account.password)).status, 200);
  for (let attempt = 1; attempt <= 9; attempt++) {
    assert.equal((await signIn(account.email, "wrong password!")).status, 401);
  }
  assert.equal((await signIn(account.email, account.password)).status, 200);
});

Deno.test("sign-in validates its body", async () => {
  const missing = await call("POST", "/auth/sign-in/email", { body: { email: "a@b.co" } });
  assert.equal(missing.status, 400);
  assert.deepEqual(errorOf(missing).details?.map((detail) => detail.path), ["password"]);
  const extra = await call("POST", "/auth/sign-in/email", {
    body: { email: "a@b.co", password: "whatever123", role: "admin" },
  });
  assert.equal(extra.status, 400);
  assert.deepEqual(errorOf(extra).details?.map((detail) => detail.path), ["role"]);
});
