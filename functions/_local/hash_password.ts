import { hashPassword, passwordLength } from "../_shared/passwords/passwords.ts";
import { taskArgs } from "./task_args.ts";
import { readHiddenInput } from "./hidden_input.ts";

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

const password = (await readHiddenInput("Password")).replace(/\r?\n$/, "");
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
