import assert from "node:assert/strict";
import { call, createKey, signUp } from "../../support/http.ts";

Deno.test("every key-authenticated response carries the RateLimit headers, errors included", async () => {
  const owner = await signUp("rate-headers");
  const created = await createKey(owner.token, { name: "h", rateLimitPerMinute: 50 });
  const responses = [
    await call("GET", "/auth/session", { token: created.key }),
    await call("GET", "/keys", { headers: { "x-api-key": created.key } }),
    await call("GET", "/keys/00000000-0000-4000-8000-000000000000", { token: created.key }),
    await call("POST", "/keys", { token: created.key, body: { name: "x" } }),
  ];
  assert.deepEqual(responses.map((response) => response.status), [200, 200, 404, 403]);
  for (const response of responses) {
    assert.equal(response.headers.get("ratelimit-limit"), "50");
    assert.ok(response.headers.get("ratelimit-remaining"));
    assert.ok(response.headers.get("ratelimit-reset"));
  }
  const session = await call("GET", "/auth/session", { token: owner.token });
  assert.equal(session.headers.get("ratelimit-limit"), null, "sessions are not rate limited");
});

Deno.test("a key-authenticated route answers 429 once the key's limit is used up", async () => {
  const owner = await signUp("rate-route");
  const created = await createKey(owner.token, { name: "r", rateLimitPerMinute: 1 });
  assert.equal((await call("GET", "/keys", { token: created.key })).status, 200);
  const limited = await call("GET", "/keys", { token: created.key });
  assert.equal(limited.status, 429);
  assert.equal(limited.body.error.code, "rate_limited");
  assert.ok(Number(limited.headers.get("retry-after")) >= 1);
  assert.equal(limited.headers.get("ratelimit-remaining"), "0");
});
