import { hashPassword, passwordLength } from "../_shared/passwords/passwords.ts";
import { taskArgs } from "./task_args.ts";

/**
 * `deno task hash-password`: the argon2id PHC string of a password, for
 * LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD_HASH. The password comes from a prompt that does not echo
 * it, or from standard input (`... | deno task hash-password`), never from an argument: an
 * argument stays in the shell's history and in every process listing.
 */

if (taskArgs().length > 0) {
  console.error(
    "usage: deno task hash-password   (type the password at the prompt, or pipe it in; an " +
      "argument would stay in your shell history)",
  );
  Deno.exit(2);
}

/** Reads one line without echoing it (a terminal), or all of standard input (a pipe). */
async function readPassword(): Promise<string> {
  const decoder = new TextDecoder();
  if (!Deno.stdin.isTerminal()) {
    let text = "";
    for await (const chunk of Deno.stdin.readable) text += decoder.decode(chunk, { stream: true });
    return text.replace(/\r?\n$/, "");
  }
  await Deno.stderr.write(new TextEncoder().encode("Password (not shown): "));
  Deno.stdin.setRaw(true);
  const bytes: number[] = [];
  const buffer = new Uint8Array(64);
  try {
    reading: while (true) {
      const read = await Deno.stdin.read(buffer);
      if (read === null) break;
      for (const byte of buffer.subarray(0, read)) {
        if (byte === 13 || byte === 10) break reading;
        if (byte === 3) Deno.exit(130); // Ctrl-C
        if (byte === 127 || byte === 8) bytes.pop();
        else bytes.push(byte);
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(new TextEncoder().encode("\n"));
  }
  return decoder.decode(new Uint8Array(bytes));
}

const password = await readPassword();
if (password.length < passwordLength.min || password.length > passwordLength.max) {
  console.error(
    `latchkey: use ${passwordLength.min} to ${passwordLength.max} characters (got ` +
      `${password.length}).`,
  );
  Deno.exit(1);
}
console.log(await hashPassword(password));
// The hash worker would keep the process alive.
Deno.exit(0);
