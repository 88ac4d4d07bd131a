/**
 * `--lock` for a Deno that loads the tests' own npm packages (fast-check, playwright-core…):
 * tests/deno.lock holds those and the server's. deno.lock holds only the server's, because
 * `deno task` fetches every package of that lockfile before it runs any task, `start` included.
 */
export const testsLockFlag = `--lock=${new URL("../deno.lock", import.meta.url).pathname}`;

/** Runs this Deno with `args` from the checkout's root, as a user's command would, and waits. */
export async function runDeno(
  args: string[],
  env: Record<string, string>,
  { clearEnv = false }: { clearEnv?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: new URL("../../", import.meta.url).pathname,
    clearEnv,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
