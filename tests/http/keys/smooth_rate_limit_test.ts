import assert from "node:assert/strict";
import { call, issueKey, signUp, verifyKey } from "../../support/http.ts";

Deno.test("200 parallel verifications of a key with limit 10 pass exactly 10", async () => {
  const owner = await signUp("gcra-parallel");
  const issued = await issueKey(owner.id, { rateLimitPerMinute: 10 });
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: 200 }, () => verifyKey(issued.key)));
  const seconds = (performance.now() - started) / 1000;
  const valid = results.filter((result) => result.body.code === "VALID").length;
  // One more every 6 s: exactly 10 unless the burst took that long.
  assert.ok(seconds < 6, `the burst took ${seconds} s`);
  assert.equal(valid, 10);
  assert.equal(results.length - valid, 190);
  assert.ok(results.every((result) => ["VALID", "RATE_LIMITED"].includes(result.body.code)));
});

Deno.test("RateLimit headers count down smoothly and Retry-After names the next free slot", async () => {
  const owner = await signUp("gcra-headers");
  const issued = await issueKey(owner.id, { rateLimitPerMinute: 4 });
  const remaining = [];
  for (let i = 0; i < 4; i++) {
    const result = await verifyKey(issued.key);
    remaining.push(Number(result.headers.get("ratelimit-remaining")));
  }
  assert.deepEqual(remaining, [3, 2, 1, 0]);
  const limited = await call("GET", "/auth/session", { token: issued.key });
  assert.equal(limited.status, 429);
  // 60 s / 4 = one request every 15 s; the full limit is back within a minute.
  const retryAfter = Number(limited.headers.get("retry-after"));
  assert.ok(retryAfter >= 13 && retryAfter <= 15, `Retry-After ${retryAfter}`);
  const reset = Number(limited.headers.get("ratelimit-reset"));
  assert.ok(reset > 45 && reset <= 60, `RateLimit-Reset ${reset}`);
});
