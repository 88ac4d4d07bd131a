import assert from "node:assert/strict";
import {
  call,
  createKey,
  signUp,
  verifyKey,
  waitForFreshMinute,
  withDatabase,
} from "../../support/http.ts";

Deno.test("with limit L, N > L parallel requests in one window give exactly L successes", async () => {
  const owner = await signUp("rate-exact");
  const limit = 25;
  const parallel = 80;
  const created = await createKey(owner.token, { name: "exact", rateLimitPerMinute: limit });
  await waitForFreshMinute();
  const results = await Promise.all(
    Array.from({ length: parallel }, () => verifyKey(created.key)),
  );
  const ok = results.filter((result) => result.status === 200);
  const limited = results.filter((result) => result.status === 429);
  assert.equal(ok.length, limit);
  assert.equal(limited.length, parallel - limit);
  assert.ok(ok.every((result) => result.body.code === "VALID"));
  const remaining = ok.map((result) => result.body.rateLimit.remaining).sort((a, b) => a - b);
  assert.deepEqual(remaining, Array.from({ length: limit }, (_, i) => i), "each count once");
  assert.ok(limited.every((result) => result.headers.get("retry-after")));
  const [{ count }] = await withDatabase((sql) =>
    sql`select count(*)::int as count from latchkey.audit_events
        where action = 'api_key.rate_limited' and target_id = ${created.id}`
  );
  assert.equal(count, 1, "rate limiting is audited once per window");
});

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
  await waitForFreshMinute();
  assert.equal((await call("GET", "/keys", { token: created.key })).status, 200);
  const limited = await call("GET", "/keys", { token: created.key });
  assert.equal(limited.status, 429);
  assert.equal(limited.body.error.code, "rate_limited");
  assert.ok(Number(limited.headers.get("retry-after")) >= 1);
  assert.equal(limited.headers.get("ratelimit-remaining"), "0");
});
