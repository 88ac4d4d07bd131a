import assert from "node:assert/strict";

/**
 * Two kinds of request timed in pairs, the order alternating from pair to pair. A burst of
 * load from the tests running beside one (or work a request leaves behind, like a mail sent
 * after its answer) then lands on both kinds, and the median of the pairs' differences is what
 * an attacker who repeats the comparison would see. Two medians taken apart flaked in CI.
 */
export async function pairedTimings(
  pairs: number,
  first: (i: number) => Promise<unknown>,
  second: (i: number) => Promise<unknown>,
  { between = () => Promise.resolve() }: {
    /** Untimed, before each timed request: e.g. waiting for the work the last one left. */
    between?: () => Promise<unknown>;
  } = {},
): Promise<PairedTimings> {
  const differences: number[] = [];
  const all: number[] = [];
  const timed = async (work: () => Promise<unknown>) => {
    await between();
    return await timedMs(work);
  };
  for (let i = 0; i < pairs; i++) {
    const [a, b] = i % 2 === 0
      ? [await timed(() => first(i)), await timed(() => second(i))]
      : [await timed(() => second(i)), await timed(() => first(i))].reverse();
    differences.push(a - b);
    all.push(a, b);
  }
  return { differenceMs: median(differences), typicalMs: median(all), differences };
}

export interface PairedTimings {
  /** The median of the pairs' differences (first − second). */
  differenceMs: number;
  /** The median of every request timed. */
  typicalMs: number;
  differences: number[];
}

/**
 * The sign test's two-sided p-value: how likely this many pairs would lean one way if neither
 * kind were slower (each difference as likely positive as negative). Exact, from the binomial.
 */
export function signTestP(differences: number[]): number {
  const signed = differences.filter((difference) => difference !== 0);
  const n = signed.length;
  if (n === 0) return 1;
  const positive = signed.filter((difference) => difference > 0).length;
  const k = Math.max(positive, n - positive);
  let tail = 0;
  let choose = 1; // C(n, 0), then C(n, i) as i grows
  for (let i = 0; i <= n; i++) {
    if (i > 0) choose = (choose * (n - i + 1)) / i;
    if (i >= k) tail += choose;
  }
  return Math.min(1, (2 * tail) / 2 ** n);
}

/**
 * The two kinds take the same time: their difference is under `share` of a typical request (or
 * `floorMs`), or, where it is not, the pairs do not lean one way beyond chance (sign test,
 * p ≥ 0.001). A real difference leans every pair the same way and fails; the jitter of a
 * machine the parallel suite keeps busy moves the median of a few dozen fast requests by
 * milliseconds either way, and does not.
 */
export function assertSamePace(timings: PairedTimings, share: number, floorMs = 0): void {
  const { differenceMs, typicalMs, differences } = timings;
  const p = signTestP(differences);
  console.log(
    `  p50 ${typicalMs.toFixed(2)} ms; difference, p50 ${differenceMs.toFixed(2)} ms; ` +
      `sign test p=${p.toPrecision(2)} over ${differences.length} pairs`,
  );
  const large = Math.abs(differenceMs) >= Math.max(floorMs, share * typicalMs);
  assert.ok(
    !(large && p < 0.001),
    `the difference ${differenceMs.toFixed(2)} ms of ${typicalMs.toFixed(2)} ms, p=${p}`,
  );
}

export async function timedMs(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

export function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
