import { type Config, configSchema } from "../_shared/config/config.ts";
import { newSigningKey } from "./jwt_keygen.ts";
import { keptDevelopmentSecret } from "./development_secret.ts";

/**
 * Outside production, `deno task start` signs `POST /auth/token` even when no signing key is
 * configured: it makes one ES256 key at the first start and keeps it (mode 0600) under
 * LATCHKEY_DATA_DIR, so tokens minted before a restart still verify after it. Production never
 * gets one: there an unconfigured deployment answers 501 and says what to set.
 */

export interface SigningSetup {
  config: Config;
  /** What the start banner says about signing, or null when the configuration decided. */
  note: string | null;
}

export async function withDevelopmentSigningKey(config: Config): Promise<SigningSetup> {
  if (
    config.LATCHKEY_ENV === "production" || config.LATCHKEY_JWT_SIGNING_KEYS ||
    config.LATCHKEY_JWT_SECRET
  ) {
    return { config, note: null };
  }
  const { text: set, path, note } = await keptDevelopmentSecret(
    config,
    "jwt-signing-keys.json",
    async () => JSON.stringify({ keys: [await newSigningKey()] }),
  );
  // Checked as if it came from the environment.
  const keys = configSchema.shape.LATCHKEY_JWT_SIGNING_KEYS.safeParse(set);
  if (!keys.success || !keys.data) {
    console.error(`latchkey: ${path} is not a signing key set; delete it to make a new one.`);
    Deno.exit(2);
  }
  return {
    config: { ...config, LATCHKEY_JWT_SIGNING_KEYS: keys.data },
    note,
  };
}
