import assert from "node:assert/strict";
import { baseUrl, call, createKey, signIn, signUp } from "../../support/http.ts";

const listed = "https://app.example.test";

Deno.test("every response is no-store, nosniff, never framed, and no more", async () => {
  const account = await signUp("headers");
  const responses = [
    await signIn(account.email, account.password),
    await call("POST", "/keys", { token: account.token, body: { name: "h" } }),
    await call("GET", "/auth/session", { token: account.token }),
    await call("GET", "/version"),
    await call("GET", "/nope"),
    await call("GET", "/auth/nope"),
    await call("GET", "/openapi.json"),
    await call("POST", "/auth/sign-in/email", { body: { email: "x" } }),
  ];
  for (const response of responses) {
    assert.equal(response.headers.get("cache-control"), "no-store");
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    assert.ok(response.headers.get("x-request-id"));
    assert.equal(
      response.headers.get("content-security-policy"),
      "default-src 'none'; frame-ancestors 'none'",
    );
    assert.equal(response.headers.get("x-frame-options"), "DENY");
    assert.match(response.headers.get("strict-transport-security") ?? "", /^max-age=\d+/);
    assert.equal(response.headers.get("referrer-policy"), "no-referrer");
    // A document's headers (and obsolete ones) have no business on JSON.
    for (const header of ["x-xss-protection", "x-dns-prefetch-control", "origin-agent-cluster"]) {
      assert.equal(response.headers.get(header), null, header);
    }
  }
});

Deno.test("CORS answers listed origins only, credentials included", async () => {
  const preflight = await fetch(`${baseUrl}/functions/v1/auth/session`, {
    method: "OPTIONS",
    headers: {
      origin: listed,
      "access-control-request-method": "GET",
      "access-control-request-headers": "authorization",
    },
  });
  await preflight.body?.cancel();
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), listed);
  assert.equal(preflight.headers.get("access-control-allow-credentials"), "true");
  assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /authorization/);

  const account = await signUp("cors");
  const allowed = await call("GET", "/auth/session", {
    token: account.token,
    headers: { origin: listed },
  });
  assert.equal(allowed.headers.get("access-control-allow-origin"), listed);
  assert.match(allowed.headers.get("access-control-expose-headers") ?? "", /x-request-id/);

  for (const origin of ["https://evil.example", "https://app.example.test.evil.example", "null"]) {
    const refused = await call("GET", "/auth/session", {
      token: account.token,
      headers: { origin },
    });
    assert.equal(refused.headers.get("access-control-allow-origin"), null, origin);
    assert.equal(refused.headers.get("access-control-allow-credentials"), null, origin);
    const preflightRefused = await fetch(`${baseUrl}/functions/v1/keys`, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST" },
    });
    await preflightRefused.body?.cancel();
    assert.equal(preflightRefused.headers.get("access-control-allow-origin"), null);
  }
  const { key } = await createKey(account.token);
  const withKey = await call("GET", "/keys", { token: key, headers: { origin: listed } });
  assert.equal(withKey.headers.get("access-control-allow-origin"), listed);
});
