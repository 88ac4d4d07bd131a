/**
 * hash-wasm instantiates argon2 afresh for every hash, and each instance's 19 MiB of WebAssembly
 * memory goes back only when V8 collects it: ten concurrent sign-ins left a few hundred MB of
 * such garbage (measured: 100 hashes in a row peaked at 349 MB RSS, against 133 MB with a minor
 * collection after each, which costs ~1.4 ms). Where the process runs with `--expose-gc` (the
 * local gateway, `deno task start`), the slot that ran a hash collects it at once, so a slot
 * holds one hash's memory at most; elsewhere (the edge runtime) V8's own heuristics decide.
 */
type Collect = (options: { type: "minor"; execution: "sync" }) => void;
const collect = (globalThis as { gc?: Collect }).gc;

export const hashMemoryReleased = collect !== undefined;

export function releaseHashMemory(): void {
  collect?.({ type: "minor", execution: "sync" });
}
