/**
 * hash-wasm gives each hash a fresh 19 MiB WebAssembly memory, returned only when V8 collects
 * it. A hash worker runs a minor collection after each hash, once its answer is posted: the
 * memory is young and dead by then (measured, 10 concurrent sign-ins for 10 s: peak RSS 470 MB
 * with one worker left to V8, 220 MB collecting; sign-ins a second unchanged). A full
 * collection frees more but cost a fifth of the throughput. On the main thread a collection
 * stalls every other request (measured: GET /version's p50 during the burst went from 20 to
 * 90-130 ms), so there V8 collects when it will. Only where the start task exposes `gc`
 * (`--expose-gc`).
 */
export function releaseHashMemory(): void {
  const collect = (globalThis as { gc?: (options: { type: "minor" }) => void }).gc;
  if (collect) setTimeout(() => collect({ type: "minor" }), 0);
}
