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
): Promise<{ differenceMs: number; typicalMs: number }> {
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
  return { differenceMs: median(differences), typicalMs: median(all) };
}

/** The two kinds differ by less than `share` of a typical request (or `floorMs`). */
export function assertSamePace(
  timings: { differenceMs: number; typicalMs: number },
  share: number,
  floorMs = 0,
): void {
  const { differenceMs, typicalMs } = timings;
  console.log(`  p50 ${typicalMs.toFixed(2)} ms; difference, p50 ${differenceMs.toFixed(2)} ms`);
  assert.ok(
    Math.abs(differenceMs) < Math.max(floorMs, share * typicalMs),
    `the difference ${differenceMs.toFixed(2)} ms of ${typicalMs.toFixed(2)} ms`,
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
