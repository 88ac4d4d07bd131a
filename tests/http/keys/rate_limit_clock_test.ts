import assert from "node:assert/strict";
import { issueKey, signUp, verifyKey, withDatabase } from "../../support/http.ts";

/**
 * The attack on fixed per-minute windows: a full limit just before the clock's minute turns and
 * another just after it, 2·L in a second. The limiter (GCRA, in check_api_key) keeps all of its
 * time in one column, the key's theoretical arrival time `api_key_meters.tat`: moving that back
 * by Δ is, for the limiter, its clock moving forward by Δ. So the test moves the clock between
 * two bursts instead of waiting for the real minute's turn, and checks the limiter at several
 * gaps, from the attack's one second to more than a whole minute.
 */

/** What a key with `limit` a minute may pass in any `seconds`-long interval. */
function allowedIn(limit: number, seconds: number): number {
  return limit + Math.ceil((limit * seconds) / 60);
}

async function burst(key: string, size: number): Promise<number> {
  const results = await Promise.all(Array.from({ length: size }, () => verifyKey(key)));
  return results.filter((result) => result.body.code === "VALID").length;
}

/** The limiter's clock moves `seconds` forward for this key. */
function moveClock(keyId: string, seconds: number) {
  return withDatabase((sql) =>
    sql`update latchkey.api_key_meters set tat = tat - make_interval(secs => ${seconds})
      where key_id = ${keyId}`
  );
}

for (const gapSeconds of [1, 15, 59, 61]) {
  Deno.test(`two full bursts ${gapSeconds} s apart pass L + ⌈L·t/60⌉ at most, not 2·L`, async () => {
    const owner = await signUp(`gcra-${gapSeconds}`);
    const limit = 30;
    const issued = await issueKey(owner.id, { rateLimitPerMinute: limit });
    const started = performance.now();
    const first = await burst(issued.key, limit);
    assert.equal(first, limit, "a fresh key passes a full burst");
    await moveClock(issued.id, gapSeconds);
    const second = await burst(issued.key, limit);
    // The real time the bursts took is time the limiter saw pass too.
    const seconds = gapSeconds + (performance.now() - started) / 1000;
    const valid = first + second;
    assert.ok(
      valid <= allowedIn(limit, seconds),
      `${valid} passed in ${seconds.toFixed(2)} s; at most ${allowedIn(limit, seconds)} may`,
    );
    // And the limiter is not stricter than its promise: what the gap earned back passes.
    assert.ok(
      second >= Math.min(limit, Math.floor((limit * gapSeconds) / 60)),
      `${second} passed after ${gapSeconds} s`,
    );
    // Within a minute of the limiter's time, never a fixed window's 2·L. That time is the gap
    // plus the bursts' own real time: on a loaded machine a 59 s gap can become a minute.
    if (seconds < 60) assert.ok(valid < 2 * limit, "never the fixed windows' 2·L");
  });
}
