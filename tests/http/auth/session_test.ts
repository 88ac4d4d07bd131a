import assert from "node:assert/strict";
import { call, errorOf, signUp, withDatabase } from "../../support/http.ts";

Deno.test("GET /auth/session returns the user and the session, without its token", async () => {
  const account = await signUp("session");
  const result = await call("GET", "/auth/session", { token: account.token });
  assert.equal(result.status, 200);
  assert.equal(result.body.user.id, account.id);
  assert.equal(result.body.user.email, account.email);
  assert.equal(result.body.session.id, account.sessionId);
  assert.equal(result.body.session.token, undefined);
  assert.ok(!JSON.stringify(result.body).includes(account.token));
});

Deno.test("GET /auth/session refuses missing, malformed and unknown credentials with 401", async () => {
  const cases: Record<string, string>[] = [
    {},
    { authorization: "Bearer" },
    { authorization: "Bearer not-a-token" },
    { authorization: `Bearer lks_${"x".repeat(43)}` },
    { authorization: "Token abc" },
    { cookie: "latchkey.session_token=lks_nope" },
  ];
  for (const headers of cases) {
    const result = await call("GET", "/auth/session", { headers });
    assert.equal(result.status, 401, JSON.stringify(headers));
    assert.equal(errorOf(result).code, "unauthorized");
    assert.match(result.headers.get("www-authenticate") ?? "", /^Bearer/);
  }
});

Deno.test("an expired session is refused", async () => {
  const account = await signUp("expired");
  await withDatabase((sql) =>
    sql`update latchkey.sessions set expires_at = now() - interval '1 second'
        where id = ${account.sessionId}`
  );
  assert.equal((await call("GET", "/auth/session", { token: account.token })).status, 401);
});

Deno.test("unknown routes answer the 404 envelope", async () => {
  for (const path of ["/auth/nope", "/nope", "/auth/session/extra"]) {
    const result = await call("GET", path);
    assert.equal(result.status, 404, path);
    assert.equal(errorOf(result).code, "not_found");
  }
});
