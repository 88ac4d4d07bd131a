import assert from "node:assert/strict";
import { verifyPassword } from "../../functions/_shared/passwords/passwords.ts";
import { loadConfig } from "../../functions/_shared/config/config.ts";

/** `deno task hash-password`, as an operator runs it: the password piped in, never an argument. */
async function hashPasswordTask(stdin: string, args: string[] = []) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      new URL("../../functions/_local/hash_password.ts", import.meta.url).pathname,
      ...args,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, out: decoder.decode(stdout).trim(), err: decoder.decode(stderr) };
}

Deno.test("deno task hash-password prints the PHC string the bootstrap variable takes", async () => {
  const password = "the first admin's passphrase";
  const { code, out } = await hashPasswordTask(`${password}\n`);
  assert.equal(code, 0);
  assert.match(out, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  assert.equal((await verifyPassword(password, out)).matches, true);
  assert.equal((await verifyPassword(`${password}\n`, out)).matches, false, "the newline is not");
  // What the deploy recipe does with it: the configuration takes it as is.
  const config = loadConfig({ LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD_HASH: out });
  assert.equal(config.LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD_HASH, out);

  const asArgument = await hashPasswordTask("", [password]);
  assert.equal(asArgument.code, 2);
  assert.match(asArgument.err, /shell history/);
  assert.ok(!asArgument.out.includes("argon2id"));
  const short = await hashPasswordTask("short\n");
  assert.equal(short.code, 1);
  assert.match(short.err, /10 to 256 characters/);
});
