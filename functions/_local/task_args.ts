/**
 * The task's arguments. `deno task <name> -- --flag` passes the `--` on to the script, where
 * parseArgs would take everything after it as positional; drop it.
 */
export function taskArgs(): string[] {
  return Deno.args[0] === "--" ? Deno.args.slice(1) : [...Deno.args];
}
