import { currentTotpCode } from "../_shared/factors/totp.ts";
import { taskArgs } from "./task_args.ts";

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

/** All of standard input (a pipe), or one line typed without echo (a terminal). */
async function readSecret(): Promise<string> {
  const decoder = new TextDecoder();
  if (!Deno.stdin.isTerminal()) {
    let text = "";
    for await (const chunk of Deno.stdin.readable) text += decoder.decode(chunk, { stream: true });
    return text;
  }
  await Deno.stderr.write(new TextEncoder().encode("TOTP secret or otpauth:// URI (not shown): "));
  Deno.stdin.setRaw(true);
  const bytes: number[] = [];
  const buffer = new Uint8Array(256);
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

const secret = (await readSecret()).trim();
try {
  console.log(currentTotpCode(secret));
  const secondsLeft = 30 - Math.floor(Date.now() / 1000) % 30;
  console.error(`(valid for ${secondsLeft} more seconds, and the 30 before and after)`);
} catch {
  console.error("expected a base32 TOTP secret or an otpauth://totp/ URI");
  Deno.exit(1);
}
