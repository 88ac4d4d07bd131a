import { Secret, TOTP, URI } from "otpauth";
import { renderSVG } from "uqr";
import type { Config } from "../config/config.ts";
import { randomBytes, sha256Hex } from "../ground/crypto.ts";
import { openSecret, sealSecret } from "../ground/sealed_secrets.ts";
import { ApiError } from "../ground/errors.ts";

/** RFC 6238 as every authenticator app reads it: SHA-1, six digits, 30-second steps. */
const totpShape = { algorithm: "SHA1", digits: 6, period: 30 } as const;

/** A code of the step before or after the current one is still taken (clocks drift). */
const acceptedDriftSteps = 1;

/** How many factors one account may hold, confirmed or not. */
export const maxFactorsPerAccount = 10;

/** How many recovery codes a first confirmation issues. */
export const recoveryCodeCount = 10;

/** The encryption key, or 501 naming the variable: without it no secret can be kept. */
export function mfaEncryptionKey(config: Config): string {
  if (!config.LATCHKEY_MFA_ENCRYPTION_KEY) {
    throw new ApiError("not_configured", {
      message: "Second factors need LATCHKEY_MFA_ENCRYPTION_KEY (32 random bytes in base64: " +
        "openssl rand -base64 32) on this deployment.",
    });
  }
  return config.LATCHKEY_MFA_ENCRYPTION_KEY;
}

/** AES-256-GCM (ground/sealed_secrets.ts); the factor id is the associated data. */
export function encryptTotpSecret(
  keyBase64: string,
  factorId: string,
  secret: Uint8Array,
): Promise<Uint8Array> {
  return sealSecret(keyBase64, factorId, secret);
}

export function decryptTotpSecret(
  keyBase64: string,
  factorId: string,
  stored: Uint8Array,
): Promise<Uint8Array> {
  return openSecret(keyBase64, factorId, stored);
}

export interface TotpEnrolment {
  secret: Uint8Array;
  base32: string;
  otpauthUri: string;
  qrSvg: string;
}

/** A new 160-bit secret (RFC 4226's recommendation) and what an authenticator app scans. */
export function newTotpEnrolment(issuer: string, accountLabel: string): TotpEnrolment {
  const secret = new Secret({ size: 20 });
  const totp = new TOTP({ ...totpShape, issuer, label: accountLabel, secret });
  const otpauthUri = totp.toString();
  return {
    secret: new Uint8Array(secret.bytes),
    base32: secret.base32,
    otpauthUri,
    qrSvg: renderSVG(otpauthUri),
  };
}

/** The time step a right code belongs to (within the drift allowed), or null. */
export function matchingTotpStep(
  secret: Uint8Array,
  code: string,
  now = Date.now(),
): number | null {
  const totp = new TOTP({ ...totpShape, secret: new Secret({ buffer: secret.slice().buffer }) });
  const delta = totp.validate({ token: code, timestamp: now, window: acceptedDriftSteps });
  return delta === null ? null : Math.floor(now / 1000 / totpShape.period) + delta;
}

/**
 * The code an authenticator app shows now for a base32 secret or an `otpauth://totp/` URI (what
 * enrolment answers): `deno task totp`, for an operator at a terminal. Throws on anything else.
 */
export function currentTotpCode(secretOrUri: string, now = Date.now()): string {
  const text = secretOrUri.trim();
  if (text.startsWith("otpauth://")) {
    const parsed = URI.parse(text);
    if (!(parsed instanceof TOTP)) throw new TypeError("not an otpauth://totp/ URI");
    return parsed.generate({ timestamp: now });
  }
  const base32 = text.replace(/\s/g, "").toUpperCase();
  // At least 80 bits, RFC 4226's floor: anything shorter is not a secret enrolment gave.
  if (!/^[A-Z2-7]{16,}=*$/.test(base32)) throw new TypeError("not a base32 TOTP secret");
  const secret = Secret.fromBase32(base32);
  return new TOTP({ ...totpShape, secret }).generate({ timestamp: now });
}

/** Six digits, spaces allowed between (apps show "123 456"). */
export function isTotpCode(code: string): boolean {
  return /^\d{6}$/.test(code.replace(/\s/g, ""));
}

const recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789";

/**
 * Ten codes of 16 characters from a 31-letter alphabet without look-alikes (about 79 bits each),
 * shown as xxxx-xxxx-xxxx-xxxx; stored as the SHA-256 of their normalized form.
 */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: recoveryCodeCount }, () => {
    let code = "";
    while (code.length < 16) {
      // Rejection sampling keeps the letters uniform (248 is the largest multiple of 31 ≤ 256).
      for (const byte of randomBytes(24)) {
        if (byte < 248 && code.length < 16) code += recoveryAlphabet[byte % 31];
      }
    }
    return code.match(/.{4}/g)!.join("-");
  });
}

/** The stored form of a recovery code, as hex (the SQL decodes it). */
export function recoveryCodeHashHex(code: string): string {
  return sha256Hex(code.toLowerCase().replace(/[\s-]/g, ""));
}
