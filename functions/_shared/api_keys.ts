/** The columns of `latchkey.api_keys` that responses are built from (never the hash). */
export interface ApiKeyRow {
  id: string;
  user_id: string;
  name: string;
  key_prefix: string;
  scopes: string[];
  key_type: string;
  rate_limit_per_minute: number;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
  created_at: Date;
}

/** The columns `ApiKeyRow` is selected from: everything but the hash. */
export const apiKeyColumns = [
  "id",
  "user_id",
  "name",
  "key_prefix",
  "scopes",
  "key_type",
  "rate_limit_per_minute",
  "expires_at",
  "last_used_at",
  "revoked_at",
  "created_at",
];

/** The key metadata every key response shows; the secret is added only on creation. */
export function apiKeyMetadata(row: ApiKeyRow) {
  return {
    id: row.id,
    userId: row.user_id,
    name: row.name,
    keyPrefix: row.key_prefix,
    scopes: row.scopes,
    keyType: row.key_type,
    rateLimitPerMinute: row.rate_limit_per_minute,
    expiresAt: row.expires_at?.toISOString() ?? null,
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
  };
}
