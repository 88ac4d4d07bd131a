/** Supabase's edge runtime (hosted, or `supabase functions serve`) defines this global. */
interface EdgeRuntimeGlobal {
  EdgeRuntime?: { waitUntil?: (promise: Promise<unknown>) => void };
}

/** Inside Supabase's edge runtime (hosted, or `supabase functions serve`), not our gateway. */
export function inEdgeRuntime(): boolean {
  return "EdgeRuntime" in globalThis;
}

const afterResponses = new Set<Promise<void>>();

/**
 * Work started after the answer: inside the edge runtime the isolate is kept alive until it
 * settles (elsewhere the process outlives it anyway). Its failure is the work's to report.
 */
export function continueAfterResponse(work: Promise<unknown>): void {
  const tracked: Promise<void> = work.then(() => {}, () => {}).finally(() => {
    afterResponses.delete(tracked);
  });
  afterResponses.add(tracked);
  (globalThis as EdgeRuntimeGlobal).EdgeRuntime?.waitUntil?.(tracked);
}

/** Resolves once the work started after answers has settled (for a clean shutdown). */
export async function workAfterResponsesSettled(): Promise<void> {
  while (afterResponses.size > 0) await Promise.all(afterResponses);
}
