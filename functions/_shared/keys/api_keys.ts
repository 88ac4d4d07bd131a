import { z } from "zod";

/** The columns of `latchkey.api_keys` that responses are built from (never the hash). */
export interface ApiKeyRow {
  id: string;
  /** The key's user; null for an organization's key. */
  user_id: string | null;
  /** The organization that owns the key; null for a user's key. */
  org_id: string | null;
  /** Who made it; null once that account is deleted (an organization's key outlives it). */
  created_by: string | null;
  name: string;
  key_prefix: string;
  scopes: string[];
  key_type: string;
  /** Null: no rate limit (only a key writer makes such a key). */
  rate_limit_per_minute: number | null;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
  created_at: Date;
  enabled: boolean;
  metadata: Record<string, unknown>;
  remaining: number | null;
  refill_amount: number | null;
  refill_interval: "day" | "month" | null;
  replaced_by: string | null;
  cache_seconds: number | null;
  /** CIDR networks the key may be used from; empty: any. */
  allowed_networks: string[];
  /** Browser origins the key may be used from; empty: any. */
  allowed_origins: string[];
}

/** The columns `ApiKeyRow` is selected from: everything but the hash. */
export const apiKeyColumns = [
  "id",
  "user_id",
  "org_id",
  "created_by",
  "name",
  "key_prefix",
  "scopes",
  "key_type",
  "rate_limit_per_minute",
  "expires_at",
  "last_used_at",
  "revoked_at",
  "created_at",
  "enabled",
  "metadata",
  "remaining",
  "refill_amount",
  "refill_interval",
  "replaced_by",
  "cache_seconds",
  "allowed_networks",
  "allowed_origins",
];

/** The key metadata every key response shows; the secret is added only on creation. */
export function apiKeyMetadata(row: ApiKeyRow) {
  return {
    id: row.id,
    ownerType: row.org_id === null ? "user" as const : "org" as const,
    userId: row.user_id,
    orgId: row.org_id,
    createdBy: row.created_by,
    name: row.name,
    keyPrefix: row.key_prefix,
    scopes: row.scopes,
    keyType: row.key_type,
    rateLimitPerMinute: row.rate_limit_per_minute,
    expiresAt: row.expires_at?.toISOString() ?? null,
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
    enabled: row.enabled,
    metadata: row.metadata,
    remaining: row.remaining,
    refill: row.refill_amount !== null && row.refill_interval !== null
      ? { amount: row.refill_amount, interval: row.refill_interval }
      : null,
    replacedBy: row.replaced_by,
    cacheSeconds: row.cache_seconds,
    allowedNetworks: row.allowed_networks,
    allowedOrigins: row.allowed_origins,
  };
}

export const maxMetadataBytes = 2048;

/** A JSON object of at most 2 KiB as sent, returned by verify: what the key is for, to whom. */
export const keyMetadataSchema = z.record(z.string().max(200), z.unknown())
  .refine(
    (value) => new TextEncoder().encode(JSON.stringify(value)).length <= maxMetadataBytes,
    `At most ${maxMetadataBytes} bytes of JSON.`,
  )
  .meta({ examples: [{ customer: "acme", plan: "pro" }] });

/** Credits: each VALID verification takes one; at 0 verify answers USAGE_EXCEEDED. */
export const remainingSchema = z.number().int().min(0).max(1_000_000_000)
  .meta({ examples: [1000] });

/**
 * How long a verifier may reuse a VALID answer of the key; only for a key with no rate limit and
 * no credits, which a cached answer would pass by.
 */
export const cacheSecondsSchema = z.int().min(0).max(300).nullable().meta({
  description: "Seconds a verifier (withLatchkey) may reuse the key's VALID answer, 1 to 300, " +
    "for a key with no rate limit (rateLimitPerMinute null) and no credits only; a change to " +
    "the key reaches every verifier within that time. 0: never, whatever the deployment " +
    "allows; null: the deployment's LATCHKEY_KEY_CACHE_SECONDS (0, never, by default). A rate " +
    "limit or credits added later end it.",
  examples: [60],
});

/** Lazily refilled: the first verification after a day's or month's start (UTC) resets it. */
export const refillSchema = z.strictObject({
  amount: z.number().int().min(1).max(1_000_000_000),
  interval: z.enum(["day", "month"]),
}).meta({ examples: [{ amount: 1000, interval: "month" }] });
