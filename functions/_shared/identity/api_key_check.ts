import { isWellFormedApiKey } from "../keys/api_key_format.ts";
import { checkKey } from "../keys/key_check_batches.ts";
import { sha256Hex } from "../ground/crypto.ts";
import type { RequestInfo } from "../db/database.ts";
import type { Runtime } from "../db/runtime.ts";
import { ApiError } from "../ground/errors.ts";
import type { Principal, RateLimitState } from "../ground/principal.ts";
import { effectiveScopes } from "../keys/scopes.ts";
import { userProfile } from "../accounts/users.ts";
import type { KeyUse } from "../keys/network_limits.ts";

/**
 * The API-key check, shared by the credential middleware (authenticate.ts) and the verify route
 * (keys/routes/verify_key.ts): the key's outcome, its rate-limit state and, when valid, its
 * principal.
 */

/** What checking a key may find: the codes verify answers (with INSUFFICIENT_SCOPE, its own). */
export const apiKeyCodes = [
  "VALID",
  "NOT_FOUND",
  "REVOKED",
  "EXPIRED",
  "DISABLED",
  "OWNER_BANNED",
  "ORG_SUSPENDED",
  "NETWORK_NOT_ALLOWED",
  "RATE_LIMITED",
  "USAGE_EXCEEDED",
  "MALFORMED",
] as const;
export type ApiKeyCode = typeof apiKeyCodes[number];

/** What checking a key found. Only real faults throw; a bad key is an outcome. */
export interface ApiKeyOutcome {
  code: ApiKeyCode;
  keyId: string | null;
  /** The key's user; null for an organization's key. */
  userId: string | null;
  /** The organization that owns the key; null for a user's key. */
  orgId: string | null;
  rateLimit: RateLimitState | null;
  /** Credits left after this verification; null when the key has no usage limit. */
  remaining: number | null;
  /** The key's metadata, when the code is VALID. */
  metadata: Record<string, unknown> | null;
  /**
   * Seconds a verifier may reuse this VALID answer (a key with no rate limit and no credits,
   * marked cacheable or by the deployment); null: ask again every time.
   */
  cacheSeconds: number | null;
  /** Set when the code is VALID. */
  principal: Principal | null;
  /** Why NETWORK_NOT_ALLOWED (`address_not_allowed`, `origin_missing`, …); else null. */
  networkRefusal: string | null;
}

/**
 * The hot path: one SQL call checks the key (where it is used from, `use`, against its network
 * limits first), counts the request in its rate-limit window and returns the principal.
 * Malformed keys never reach the database.
 */
export async function authenticateApiKey(
  { sql, config }: Pick<Runtime, "sql" | "config">,
  key: string,
  request: RequestInfo,
  use: KeyUse,
): Promise<ApiKeyOutcome> {
  if (!isWellFormedApiKey(key)) {
    return {
      code: "MALFORMED",
      keyId: null,
      userId: null,
      orgId: null,
      rateLimit: null,
      remaining: null,
      metadata: null,
      cacheSeconds: null,
      principal: null,
      networkRefusal: null,
    };
  }
  const row = await checkKey(sql, sha256Hex(key), request, use, config);
  // The function always returns a row; none means the connection died mid-answer (seen while
  // PostgreSQL shut down under load), which is the database's state, not a bug of the request.
  if (!row) {
    throw new ApiError("database_unavailable", {
      cause: new Error("the key check returned no row"),
    });
  }
  const rateLimit = row.rate_limit_remaining === null || row.rate_limit === null || !row.reset_at
    ? null
    : {
      limit: row.rate_limit,
      remaining: row.rate_limit_remaining,
      resetAt: row.reset_at.toISOString(),
    };
  const outcome: ApiKeyOutcome = {
    code: row.code as ApiKeyOutcome["code"],
    keyId: row.key_id,
    userId: row.user_id,
    orgId: row.org_id,
    rateLimit,
    remaining: row.credits_remaining,
    metadata: row.code === "VALID" ? row.metadata : null,
    cacheSeconds: row.cache_seconds,
    principal: null,
    networkRefusal: row.code === "NETWORK_NOT_ALLOWED"
      ? String(row.metadata?.networkRefusal ?? "")
      : null,
  };
  if (row.code !== "VALID" || !row.key_id) return outcome;

  if (row.org_id) {
    // An organization's key acts for the organization, not for a person: no user (as
    // `latchkey.caller` its `sub` is null, so no user's rows are its own), its role the
    // platform's least, and none of Latchkey's own permissions (staff powers are people's,
    // through their role): only the team's permissions its organization's ceiling lets it hold.
    outcome.principal = {
      kind: "api_key",
      userId: null,
      role: "user",
      permissions: row.permissions,
      credentialId: row.key_id,
      user: null,
      session: null,
      apiKey: {
        id: row.key_id,
        scopes: effectiveScopes(config, row.scopes ?? [], row.permissions, {
          keyPermissions: row.org_key_permissions,
        }),
        orgId: row.org_id,
      },
      rateLimit,
    };
    return outcome;
  }
  if (!row.user_id) return outcome;
  const user = userProfile({
    id: row.user_id,
    email: row.user_email!,
    name: row.user_name!,
    role: row.user_role!,
    tier: row.user_tier!,
    created_at: row.user_created_at!,
    email_verified_at: row.user_email_verified_at,
  });
  outcome.principal = {
    kind: "api_key",
    userId: user.id,
    role: user.role,
    permissions: row.permissions,
    credentialId: row.key_id,
    user,
    session: null,
    apiKey: {
      id: row.key_id,
      scopes: effectiveScopes(config, row.scopes ?? [], row.permissions),
      orgId: null,
    },
    rateLimit,
  };
  return outcome;
}

/**
 * `RateLimit-*` headers (IETF draft: seconds until the key's full limit is back), plus
 * `Retry-After` when used up: the limit is smooth (GCRA), so the next request passes one
 * emission interval (60 s / limit) after the budget runs dry, long before it is full again.
 */
export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  const untilFull = Date.parse(state.resetAt) - Date.now();
  const reset = Math.max(0, Math.ceil(untilFull / 1000));
  const untilNext = untilFull - (60_000 * (state.limit - 1)) / state.limit;
  return {
    "RateLimit-Limit": String(state.limit),
    "RateLimit-Remaining": String(state.remaining),
    "RateLimit-Reset": String(reset),
    ...(state.remaining === 0
      ? { "Retry-After": String(Math.max(1, Math.ceil(untilNext / 1000))) }
      : {}),
  };
}
