import assert from "node:assert/strict";
import { call, issueKey, signUp, verifyKey } from "../../support/http.ts";

/** What a key with `limit` a minute may pass in any `seconds`-long interval. */
function allowedIn(limit: number, seconds: number): number {
  return limit + Math.ceil((limit * seconds) / 60);
}

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

Deno.test("a burst across a minute's turn passes L + ⌈L·t/60⌉, not the 2·L fixed windows let by", async () => {
  const owner = await signUp("gcra-edge");
  const limit = 30;
  const issued = await issueKey(owner.id, { rateLimitPerMinute: limit });
  // Half a second before the minute turns, then half a second after it.
  const untilClockAt = (ms: number) => (ms - (Date.now() % 60_000) + 60_000) % 60_000;
  await new Promise((resolve) => setTimeout(resolve, untilClockAt(59_500)));
  const started = performance.now();
  const before = await Promise.all(Array.from({ length: limit }, () => verifyKey(issued.key)));
  const pause = untilClockAt(500);
  if (pause < 5_000) await new Promise((resolve) => setTimeout(resolve, pause));
  const after = await Promise.all(Array.from({ length: limit }, () => verifyKey(issued.key)));
  const seconds = (performance.now() - started) / 1000;
  const valid = [...before, ...after].filter((result) => result.body.code === "VALID").length;
  assert.ok(valid >= limit, `${valid} passed`);
  assert.ok(
    valid <= allowedIn(limit, seconds),
    `${valid} passed in ${seconds.toFixed(2)} s; at most ${allowedIn(limit, seconds)} may`,
  );
  assert.ok(valid < 2 * limit);
});
