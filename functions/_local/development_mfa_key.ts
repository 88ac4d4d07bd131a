import { type Config, configSchema } from "../_shared/config/config.ts";
import { base64Encode, randomBytes } from "../_shared/ground/crypto.ts";
import { keptDevelopmentSecret } from "./development_secret.ts";

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
  const { text, path, note } = await keptDevelopmentSecret(
    config,
    "mfa-encryption-key",
    () => base64Encode(randomBytes(32)),
  );
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
    note,
  };
}
