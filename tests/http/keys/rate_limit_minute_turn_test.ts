import assert from "node:assert/strict";
import { issueKey, signUp, verifyKey } from "../../support/http.ts";

/**
 * The attack on fixed per-minute windows: a full limit just before the clock's minute turns and
 * another just after it. Its own file because it waits for that moment (30 s on average), and
 * its outcome is the database's rate limiter's, not the Deno's: CI's compatibility pass on the
 * edge runtime's Deno leaves it out (tests/run.ts).
 */

/** What a key with `limit` a minute may pass in any `seconds`-long interval. */
function allowedIn(limit: number, seconds: number): number {
  return limit + Math.ceil((limit * seconds) / 60);
}

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
