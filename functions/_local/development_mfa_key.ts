import { type Config, configSchema } from "../_shared/config/config.ts";
import { randomBytes } from "../_shared/ground/crypto.ts";

/**
 * Outside production, `deno task start` keeps TOTP secrets even when no
 * LATCHKEY_MFA_ENCRYPTION_KEY is configured: it makes a key at the first start and keeps it
 * (mode 0600) under LATCHKEY_DATA_DIR, so factors enrolled before a restart still verify after
 * it. Production never gets one: there the factor routes answer 501 and name the variable.
 */

export interface MfaKeySetup {
  config: Config;
  /** What the start banner says about the key, or null when the configuration decided. */
  note: string | null;
}

export async function withDevelopmentMfaKey(config: Config): Promise<MfaKeySetup> {
  if (config.LATCHKEY_ENV === "production" || config.LATCHKEY_MFA_ENCRYPTION_KEY) {
    return { config, note: null };
  }
  const path = `${config.LATCHKEY_DATA_DIR}/mfa-encryption-key`;
  let text = await Deno.readTextFile(path).catch(() => null);
  const made = text === null;
  if (text === null) {
    text = btoa(String.fromCharCode(...randomBytes(32)));
    await Deno.mkdir(config.LATCHKEY_DATA_DIR, { recursive: true });
    await Deno.writeTextFile(path, text, { mode: 0o600 });
  }
  // Checked as if it came from the environment.
  const key = configSchema.shape.LATCHKEY_MFA_ENCRYPTION_KEY.safeParse(text);
  if (!key.success || !key.data) {
    console.error(
      `latchkey: ${path} is not an MFA encryption key; delete it to make a new one ` +
        "(factors enrolled with it stop working).",
    );
    Deno.exit(2);
  }
  return {
    config: { ...config, LATCHKEY_MFA_ENCRYPTION_KEY: key.data },
    note: `development key in ${path} (${made ? "made now" : "kept"}; never in production)`,
  };
}
