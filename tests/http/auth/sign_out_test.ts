import assert from "node:assert/strict";
import { auditEventsFor, call, errorOf, signUp } from "../../support/http.ts";

Deno.test("sign-out works with no body, {} and an empty JSON body, and kills the token at once", async () => {
  const variants: { name: string; init: Parameters<typeof call>[2] }[] = [
    { name: "no body", init: {} },
    { name: "{}", init: { body: {} } },
    {
      name: "empty JSON body",
      init: { rawBody: "", headers: { "content-type": "application/json" } },
    },
  ];
  for (const { name, init } of variants) {
    const account = await signUp("signout");
    const result = await call("POST", "/auth/sign-out", { ...init, token: account.token });
    assert.equal(result.status, 200, name);
    assert.deepEqual(result.body, { success: true }, name);
    assert.match(result.headers.get("set-cookie") ?? "", /latchkey\.session_token=;/, name);

    const after = await call("GET", "/auth/session", { token: account.token });
    assert.equal(after.status, 401, `${name}: token still works after sign-out`);
    assert.equal(errorOf(after).code, "unauthorized");

    const [event] = await auditEventsFor(result.headers.get("x-request-id")!);
    assert.equal(event.action, "auth.sign_out");
    assert.equal(event.actor_kind, "session");
    assert.equal(event.actor_user_id, account.id);
    assert.equal(event.target_id, account.sessionId);
  }
});

Deno.test("sign-out with the session cookie signs out that session", async () => {
  const account = await signUp("cookie-signout");
  const cookie = `latchkey.session_token=${account.token}`;
  const result = await call("POST", "/auth/sign-out", { headers: { cookie } });
  assert.equal(result.status, 200);
  assert.equal((await call("GET", "/auth/session", { headers: { cookie } })).status, 401);
});

Deno.test("sign-out leaves the user's other sessions alone", async () => {
  const account = await signUp("one-of-two");
  const second = await call("POST", "/auth/sign-in/email", {
    body: { email: account.email, password: account.password },
  });
  assert.equal((await call("POST", "/auth/sign-out", { token: account.token })).status, 200);
  const still = await call("GET", "/auth/session", { token: second.body.session.token });
  assert.equal(still.status, 200);
});

Deno.test("sign-out without a valid session is 401 with WWW-Authenticate", async () => {
  for (
    const headers of <Record<string, string>[]> [{}, {
      authorization: "Bearer lks_" + "A".repeat(43),
    }, {
      authorization: "Basic abc",
    }]
  ) {
    const result = await call("POST", "/auth/sign-out", { headers });
    assert.equal(result.status, 401);
    assert.equal(errorOf(result).code, "unauthorized");
    assert.match(result.headers.get("www-authenticate") ?? "", /^Bearer/);
  }
});
