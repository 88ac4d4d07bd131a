import assert from "node:assert/strict";
import { runDeno } from "../support/deno_run.ts";

/** `deno task start`'s script with only the given environment, as a user would run it. */
function start(env: Record<string, string>) {
  return runDeno(["run", "--allow-all", "functions/_local/start.ts"], {
    PATH: Deno.env.get("PATH") ?? "",
    HOME: Deno.env.get("HOME") ?? "",
    ...env,
  }, { clearEnv: true });
}

Deno.test("deno task start with bad values stops at once, one line per variable: name, problem, fix", async () => {
  const result = await start({
    LATCHKEY_PORT: "eighty",
    LATCHKEY_ADMIN_KEY: "short",
    DATABASE_URL: "mysql://user:hunter2secret@db.example/app",
  });
  assert.equal(result.code, 2, "exit status 2: a usage error, not a crash");
  const lines = result.stderr.trim().split("\n").filter((line) => line.startsWith("latchkey: "));
  const about = (name: string) => lines.find((line) => line.startsWith(`latchkey: ${name}: `));
  assert.match(about("LATCHKEY_PORT") ?? "", /expected a whole number from 1 to 65535/);
  assert.match(about("LATCHKEY_ADMIN_KEY") ?? "", /at least 32 characters/);
  assert.match(about("DATABASE_URL") ?? "", /expected a postgres:\/\/ or postgresql:\/\/ URL/);
  assert.ok(!result.stderr.includes("hunter2secret"), "the password is not echoed");
  assert.ok(!/\n\s+at /.test(result.stderr), "no stack trace");
});

Deno.test("a port already in use is one line with the fix, not a stack trace", async () => {
  const holder = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (holder.addr as Deno.NetAddr).port;
  try {
    const result = await start({
      LATCHKEY_PORT: String(port),
      DATABASE_URL: Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!,
    });
    assert.equal(result.code, 1);
    const lines = result.stderr.trim().split("\n");
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0], new RegExp(`^latchkey: 127\\.0\\.0\\.1:${port} is already in use`));
    assert.match(lines[0], /LATCHKEY_PORT=/);
  } finally {
    holder.close();
  }
});
