import { base64Encode } from "../ground/crypto.ts";

/**
 * A Standard Webhooks (standardwebhooks.com) signature by hand, with WebCrypto, so it runs in the
 * edge runtime: `v1,` and the base64 HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>`,
 * one per secret, space-separated (during a rotation's overlap the new secret's and the old's;
 * a receiver accepts the message when any one verifies).
 */
export async function standardWebhookSignature(
  keys: CryptoKey[],
  id: string,
  timestamp: number,
  body: string,
): Promise<string> {
  const signed = new TextEncoder().encode(`${id}.${timestamp}.${body}`);
  const signatures = await Promise.all(
    keys.map(async (key) =>
      `v1,${base64Encode(new Uint8Array(await crypto.subtle.sign("HMAC", key, signed)))}`
    ),
  );
  return signatures.join(" ");
}

/** A secret's bytes as the key that signs with it (made once per lane, not per message). */
export function webhookSigningKey(secret: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    secret.slice(),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
}
