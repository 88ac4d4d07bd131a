import type { Config } from "../config/config.ts";
import { constantTimeEqual, sha256 } from "../ground/crypto.ts";

/** One accepted X-Admin-Key: its name (audited with each use), digest and expiry. */
export interface AdminKeyEntry {
  name: string;
  digest: Uint8Array;
  expiresAt: Date | null;
}

/** The single key is named by the variable that holds it: what an operator must change. */
function singleAdminKeyName(config: Config): string {
  return config.LATCHKEY_ADMIN_KEY ? "LATCHKEY_ADMIN_KEY" : "LATCHKEY_ADMIN_KEY_SHA256";
}

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

/** Every configured admin key: the single one (it never expires), then LATCHKEY_ADMIN_KEYS. */
export function configuredAdminKeys(config: Config): AdminKeyEntry[] {
  const single = config.LATCHKEY_ADMIN_KEY
    ? sha256(config.LATCHKEY_ADMIN_KEY)
    : config.LATCHKEY_ADMIN_KEY_SHA256
    ? hexBytes(config.LATCHKEY_ADMIN_KEY_SHA256)
    : null;
  return [
    ...(single ? [{ name: singleAdminKeyName(config), digest: single, expiresAt: null }] : []),
    ...(config.LATCHKEY_ADMIN_KEYS ?? []).map((entry) => ({
      name: entry.name,
      digest: hexBytes(entry.sha256),
      expiresAt: entry.expiresAt ? new Date(entry.expiresAt) : null,
    })),
  ];
}

/**
 * The entry the presented key is, if any. Every entry is compared, in constant time, whatever
 * matched first: neither which entry matched nor how much of a digest did shows in the timing.
 */
export function matchAdminKey(entries: AdminKeyEntry[], presented: string): AdminKeyEntry | null {
  const digest = sha256(presented);
  let match: AdminKeyEntry | null = null;
  for (const entry of entries) {
    if (constantTimeEqual(digest, entry.digest) && !match) match = entry;
  }
  return match;
}

export interface AdminKeyWarning {
  code: "admin_key_never_expires" | "admin_key_expires_soon" | "admin_key_expired";
  message: string;
}

const soon = 7 * 24 * 3600_000;

/**
 * What an operator should act on: a key that never expires (a bootstrap credential should be
 * rotated), one that expires within 7 days, one that has expired. `withNames: false` for
 * answers to anonymous callers: they learn that something needs rotating, not what.
 */
export function adminKeyWarnings(
  config: Config,
  { now = Date.now(), withNames = true } = {},
): AdminKeyWarning[] {
  return configuredAdminKeys(config).flatMap((entry): AdminKeyWarning[] => {
    const which = withNames ? `The X-Admin-Key "${entry.name}"` : "An X-Admin-Key";
    if (!entry.expiresAt) {
      return [{
        code: "admin_key_never_expires",
        message: `${which} never expires: move it to LATCHKEY_ADMIN_KEYS with an expiresAt ` +
          "and rotate it before then.",
      }];
    }
    const left = entry.expiresAt.getTime() - now;
    if (left <= 0) {
      return [{
        code: "admin_key_expired",
        message: `${which} expired at ${entry.expiresAt.toISOString()}; remove it.`,
      }];
    }
    if (left <= soon) {
      return [{
        code: "admin_key_expires_soon",
        message: `${which} expires at ${entry.expiresAt.toISOString()}, within 7 days: add its ` +
          "successor to LATCHKEY_ADMIN_KEYS now.",
      }];
    }
    return [];
  });
}
