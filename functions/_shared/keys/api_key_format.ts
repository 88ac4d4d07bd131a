import { randomBytes, sha256Hex } from "../ground/crypto.ts";

/**
 * API keys look like `lk_<43 base62 characters of secret><6 base62 characters of CRC32>`,
 * GitHub-style: a mistyped or truncated key is rejected without a database call, and secret
 * scanners can recognise ours by shape.
 */

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const secretLength = 43; // 62^43 > 2^256
const checksumLength = 6; // 62^6 > 2^32
const keyPattern = new RegExp(
  `^([a-z][a-z0-9]{0,9})_([0-9A-Za-z]{${secretLength}})([0-9A-Za-z]{${checksumLength}})$`,
);

/** How many leading characters of a key lists show. */
export const displayPrefixLength = 12;

function base62(value: bigint, length: number): string {
  let text = "";
  for (let i = 0; i < length; i++) {
    text = alphabet[Number(value % 62n)] + text;
    value /= 62n;
  }
  return text;
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function crc32(text: string): number {
  let crc = 0xffffffff;
  for (const byte of new TextEncoder().encode(text)) {
    crc = crcTable[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function checksumOf(body: string): string {
  return base62(BigInt(crc32(body)), checksumLength);
}

export interface NewApiKey {
  key: string;
  keyPrefix: string;
  keyHashHex: string;
}

/** A new key: 256 random bits under `prefix`, with its checksum, display prefix and hash. */
export function generateApiKey(prefix: string): NewApiKey {
  const secret = base62(
    randomBytes(32).reduce((value, byte) => (value << 8n) | BigInt(byte), 0n),
    secretLength,
  );
  const body = `${prefix}_${secret}`;
  const key = body + checksumOf(body);
  return { key, keyPrefix: key.slice(0, displayPrefixLength), keyHashHex: sha256Hex(key) };
}

/** True when the text has the shape of a key and its checksum is right. */
export function isWellFormedApiKey(text: string): boolean {
  const match = keyPattern.exec(text);
  if (!match) return false;
  return checksumOf(`${match[1]}_${match[2]}`) === match[3];
}
