import { currentTotpCode } from "../_shared/factors/totp.ts";
import { taskArgs } from "./task_args.ts";
import { readHiddenInput } from "./hidden_input.ts";

/**
 * `deno task totp`: the six-digit code an authenticator app would show now for a TOTP factor,
 * from its base32 secret or its `otpauth://` URI (what POST /auth/factors/totp answers once),
 * piped in or typed at a prompt that does not echo it. For an operator at a terminal (the
 * bootstrap admin's first sign-in, a script) — the secret is the factor: keep it where you would
 * keep a password, and prefer an app on another device. Never an argument: an argument stays in
 * the shell's history and in every process listing.
 */

if (taskArgs().length > 0) {
  console.error(
    "usage: deno task totp   (pipe in the factor's base32 secret or otpauth:// URI, or type it " +
      "at the prompt; an argument would stay in your shell history)",
  );
  Deno.exit(2);
}

const secret = (await readHiddenInput("TOTP secret or otpauth:// URI")).trim();
try {
  console.log(currentTotpCode(secret));
  const secondsLeft = 30 - Math.floor(Date.now() / 1000) % 30;
  console.error(`(valid for ${secondsLeft} more seconds, and the 30 before and after)`);
} catch {
  console.error("expected a base32 TOTP secret or an otpauth://totp/ URI");
  Deno.exit(1);
}
