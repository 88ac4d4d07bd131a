import { base64Decode, randomBytes } from "./crypto.ts";

/**
 * Secrets kept at rest that must be read back to be used (a TOTP factor's seed, a webhook
 * endpoint's signing secret): AES-256-GCM under LATCHKEY_MFA_ENCRYPTION_KEY, a random nonce per
 * secret, stored as nonce || ciphertext+tag. The associated data names what the secret belongs
 * to (a factor's id, `webhook_endpoint:<id>`), so a ciphertext copied onto another row, or from
 * one kind of row to another, does not decrypt.
 */

const importedKeys = new Map<string, Promise<CryptoKey>>();

function aesKey(keyBase64: string): Promise<CryptoKey> {
  let key = importedKeys.get(keyBase64);
  if (!key) {
    // slice(): a copy with its own ArrayBuffer, what WebCrypto's types ask for.
    const raw = base64Decode(keyBase64)!.slice();
    key = crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
    importedKeys.set(keyBase64, key);
  }
  return key;
}

const nonceLength = 12;

export async function sealSecret(
  keyBase64: string,
  belongsTo: string,
  secret: Uint8Array,
): Promise<Uint8Array> {
  const nonce = randomBytes(nonceLength).slice();
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv: nonce, additionalData: new TextEncoder().encode(belongsTo) },
    await aesKey(keyBase64),
    secret.slice(),
  );
  const stored = new Uint8Array(nonceLength + sealed.byteLength);
  stored.set(nonce);
  stored.set(new Uint8Array(sealed), nonceLength);
  return stored;
}

/** The secret, or a rejection when the key, the owner or the bytes are not the ones sealed. */
export async function openSecret(
  keyBase64: string,
  belongsTo: string,
  stored: Uint8Array,
): Promise<Uint8Array> {
  const opened = await crypto.subtle.decrypt(
    {
      name: "AES-GCM",
      iv: stored.slice(0, nonceLength),
      additionalData: new TextEncoder().encode(belongsTo),
    },
    await aesKey(keyBase64),
    stored.slice(nonceLength),
  );
  return new Uint8Array(opened);
}
