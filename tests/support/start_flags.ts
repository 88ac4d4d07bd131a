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
