import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export function randomBytes(length: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(length));
}

/** Standard base64, padded. */
export function base64Encode(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

export function base64UrlEncode(bytes: Uint8Array): string {
  return base64Encode(bytes).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Decodes standard or URL-safe base64, with or without padding; null when malformed. */
export function base64Decode(text: string): Uint8Array | null {
  const normalized = text.replaceAll("-", "+").replaceAll("_", "/");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(normalized)) return null;
  try {
    return Uint8Array.from(atob(normalized), (char) => char.charCodeAt(0));
  } catch {
    return null;
  }
}

export function sha256(data: string | Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * Constant-time equality. Comparing digests keeps the time independent of where the inputs
 * differ and of their lengths.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return timingSafeEqual(sha256(a), sha256(b)) && a.length === b.length;
}

const sessionTokenPrefix = "lks_";

/** A new session token: 256 random bits, recognisable by its prefix. */
export function newSessionToken(): string {
  return sessionTokenPrefix + base64UrlEncode(randomBytes(32));
}

export function looksLikeSessionToken(token: string): boolean {
  return token.startsWith(sessionTokenPrefix) && /^lks_[A-Za-z0-9_-]{43}$/.test(token);
}

/** A reset or verification token: 256 random bits in base64url, sent only in a mail's link. */
export function newAccountToken(): string {
  return base64UrlEncode(randomBytes(32));
}

/** Whether a string can be an account token at all (anything else is refused unread). */
export function looksLikeAccountToken(token: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(token);
}

export function hmacSha256Hex(secret: string, data: string): string {
  return createHmac("sha256", secret).update(data).digest("hex");
}
