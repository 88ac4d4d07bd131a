import type { Config } from "../config/config.ts";
import { base64Decode, base64Encode, randomBytes } from "../ground/crypto.ts";
import { ApiError } from "../ground/errors.ts";
import { openSecret, sealSecret } from "../ground/sealed_secrets.ts";

/**
 * An endpoint's signing secret as Standard Webhooks writes it: `whsec_` and the base64 of its
 * bytes (32 random ones), the HMAC key being those bytes. Shown once; stored sealed under
 * LATCHKEY_MFA_ENCRYPTION_KEY with the endpoint's id as associated data.
 */
export const webhookSecretPrefix = "whsec_";
const secretBytes = 32;

export function newWebhookSecret(): { secret: string; bytes: Uint8Array } {
  const bytes = randomBytes(secretBytes);
  return { secret: webhookSecretPrefix + base64Encode(bytes), bytes };
}

/** The HMAC key of a `whsec_…` secret, or null when it is not one. */
export function webhookSecretBytes(secret: string): Uint8Array | null {
  if (!secret.startsWith(webhookSecretPrefix)) return null;
  return base64Decode(secret.slice(webhookSecretPrefix.length));
}

/** The encryption key, or 501 naming the variable: without it no secret can be kept. */
export function webhookEncryptionKey(config: Config): string {
  if (!config.LATCHKEY_MFA_ENCRYPTION_KEY) {
    throw new ApiError("not_configured", {
      message: "Webhooks need LATCHKEY_MFA_ENCRYPTION_KEY (32 random bytes in base64: " +
        "openssl rand -base64 32), which keeps their signing secrets encrypted, on this " +
        "deployment.",
    });
  }
  return config.LATCHKEY_MFA_ENCRYPTION_KEY;
}

const belongsTo = (endpointId: string) => `webhook_endpoint:${endpointId}`;

export function sealWebhookSecret(
  keyBase64: string,
  endpointId: string,
  bytes: Uint8Array,
): Promise<Uint8Array> {
  return sealSecret(keyBase64, belongsTo(endpointId), bytes);
}

export function openWebhookSecret(
  keyBase64: string,
  endpointId: string,
  sealed: Uint8Array,
): Promise<Uint8Array> {
  return openSecret(keyBase64, belongsTo(endpointId), sealed);
}
