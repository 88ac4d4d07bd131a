/**
 * The V8 flag `deno task start` also gives the test processes that serve functions in-process:
 * Deno 2.1.4's V8 (13.0) now and then livelocks when its background Sparkplug compiler waits
 * for a garbage collection: the event loop spins at 100% CPU on cppgc sweeping tasks for tens of
 * seconds or for good, and no timer or I/O callback runs (a test's in-process request "got no
 * answer"; gdb showed the compiler thread in CollectionBarrier::AwaitCollectionBackground). On
 * the main thread, baseline compilation costs microseconds per function and never waits.
 */
export const sparkplugOnMainThread = "--no-concurrent-sparkplug";

/**
 * The Deno flags of `deno task start` (V8 tuning), read from deno.json so the test and bench
 * servers run exactly as the start command does.
 */
export async function startTaskDenoFlags(): Promise<string[]> {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
  );
  return String(config.tasks.start).split(/\s+/).filter((word) => word.startsWith("--v8-flags="));
}

/**
 * The start task's flags with `extra` applied: V8 flags merged into its one `--v8-flags` (Deno
 * 2.1 refuses the option twice), a V8 flag given again replacing the task's value.
 */
export function withDenoFlags(startFlags: string[], extra: string[]): string[] {
  const isV8 = (flag: string) => flag.startsWith("--v8-flags=");
  const v8 = new Map<string, string>();
  for (const flag of [...startFlags, ...extra].filter(isV8)) {
    for (const setting of flag.slice("--v8-flags=".length).split(",").filter(Boolean)) {
      v8.set(setting.split("=")[0], setting);
    }
  }
  const others = [...startFlags, ...extra].filter((flag) => !isV8(flag));
  return v8.size ? [`--v8-flags=${[...v8.values()].join(",")}`, ...others] : others;
}
