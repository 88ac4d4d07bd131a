import assert from "node:assert/strict";
import { assertSamePace, signTestP } from "../support/timing.ts";

Deno.test("the sign test: exact binomial tails, both ways", () => {
  assert.equal(signTestP(Array(24).fill(1)), 2 / 2 ** 24);
  assert.equal(signTestP(Array(24).fill(-1)), 2 / 2 ** 24);
  assert.equal(signTestP([...Array(12).fill(1), ...Array(12).fill(-1)]), 1);
  // 21 of 24 one way: 2·(C(24,21)+C(24,22)+C(24,23)+C(24,24)) / 2^24.
  assert.equal(
    signTestP([...Array(21).fill(2), -1, -1, -1]),
    (2 * (2024 + 276 + 24 + 1)) / 2 ** 24,
  );
  assert.equal(signTestP([0, 0]), 1, "ties say nothing");
});

Deno.test("assertSamePace fails on a difference every pair shows, not on jitter", () => {
  const typicalMs = 10;
  const leaking = Array.from({ length: 24 }, (_, i) => 4 + (i % 3));
  assert.throws(() => assertSamePace({ differenceMs: 5, typicalMs, differences: leaking }, 0.25));
  // The same median difference from pairs that go both ways: load, not a leak.
  const jitter = Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? 12 : -8));
  assertSamePace({ differenceMs: 5, typicalMs, differences: jitter }, 0.25);
  // Small and one-sided: under the bound, fine.
  assertSamePace({ differenceMs: 1, typicalMs, differences: Array(24).fill(1) }, 0.25);
});
