/** Supabase's edge runtime (hosted, or `supabase functions serve`) defines this global. */
interface EdgeRuntimeGlobal {
  EdgeRuntime?: { waitUntil?: (promise: Promise<unknown>) => void };
}

/** Inside Supabase's edge runtime (hosted, or `supabase functions serve`), not our gateway. */
export function inEdgeRuntime(): boolean {
  return "EdgeRuntime" in globalThis;
}

/**
 * Work started after the answer: inside the edge runtime the isolate is kept alive until it
 * settles (elsewhere the process outlives it anyway).
 */
export function continueAfterResponse(work: Promise<unknown>): void {
  (globalThis as EdgeRuntimeGlobal).EdgeRuntime?.waitUntil?.(work);
}
