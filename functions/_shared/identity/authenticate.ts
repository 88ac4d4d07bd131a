import { getCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { isWellFormedApiKey } from "../keys/api_key_format.ts";
import { configuredAdminKeys, matchAdminKey } from "./static_admin_key.ts";
import { checkKey } from "../keys/key_check_batches.ts";
import type { Runtime } from "../db/runtime.ts";
import { looksLikeSessionToken, sha256Hex } from "../ground/crypto.ts";
import { type RequestInfo, requestJson, type Sql, withinTimeout } from "../db/database.ts";
import { ApiError } from "../ground/errors.ts";
import { type AppContext, type AppEnv } from "../http/context.ts";
import { asCaller, requestInfo, throttleClient } from "../http/request.ts";
import { withinFunction } from "../http/function_app.ts";
import {
  type AdminPermission,
  adminPermissions,
  effectiveScopes,
  isAdminPermission,
  type Principal,
  type RateLimitState,
  rolePermissions,
} from "../ground/principal.ts";
import { authenticateSupabaseToken, looksLikeJwt } from "./supabase_identity.ts";
import { userProfile, type UserRow } from "../accounts/users.ts";

export const sessionCookieName = "latchkey.session_token";

/**
 * The presented credential: `x-api-key` first (supabase-js always sends its anon key as
 * `Authorization`), then `Authorization: Bearer`, then the session cookie.
 */
export function presentedCredential(c: AppContext): string | null {
  const apiKey = c.req.header("x-api-key");
  if (apiKey !== undefined) return apiKey.trim();
  const authorization = c.req.header("authorization");
  if (authorization !== undefined) {
    const match = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(authorization);
    if (!match) {
      throw new ApiError("unauthorized", {
        message: "The Authorization header must be `Bearer <token>`.",
      });
    }
    return match[1];
  }
  return getCookie(c, sessionCookieName) ?? null;
}

interface SessionRow extends UserRow {
  session_id: string;
  session_expires_at: Date;
}

/** Resolves a session token to its principal, or null when it is unknown, revoked or expired. */
export async function authenticateSessionToken(
  sql: Sql,
  token: string,
): Promise<Principal | null> {
  if (!looksLikeSessionToken(token)) return null;
  const [row] = await withinTimeout(
    sql,
    sql<SessionRow[]>`
      select s.*, u.email_verified_at
      from latchkey.authenticate_session(decode(${sha256Hex(token)}, 'hex')) as s
      join latchkey.users u on u.id = s.id`,
  );
  if (!row) return null;
  const user = userProfile(row);
  return {
    kind: "session",
    userId: user.id,
    role: user.role,
    permissions: rolePermissions[user.role],
    credentialId: row.session_id,
    user,
    session: { id: row.session_id, expiresAt: row.session_expires_at.toISOString() },
    apiKey: null,
    rateLimit: null,
  };
}

export type ApiKeyCode =
  | "VALID"
  | "NOT_FOUND"
  | "REVOKED"
  | "EXPIRED"
  | "DISABLED"
  | "OWNER_BANNED"
  | "RATE_LIMITED"
  | "USAGE_EXCEEDED"
  | "MALFORMED";

/** What checking a key found. Only real faults throw; a bad key is an outcome. */
export interface ApiKeyOutcome {
  code: ApiKeyCode;
  keyId: string | null;
  userId: string | null;
  rateLimit: RateLimitState | null;
  /** Credits left after this verification; null when the key has no usage limit. */
  remaining: number | null;
  /** The key's metadata, when the code is VALID. */
  metadata: Record<string, unknown> | null;
  /** Set when the code is VALID. */
  principal: Principal | null;
}

/**
 * The hot path: one SQL call checks the key, counts the request in its rate-limit window and
 * returns the principal. Malformed keys never reach the database.
 */
export async function authenticateApiKey(
  { sql, config }: Pick<Runtime, "sql" | "config">,
  key: string,
  request: RequestInfo,
): Promise<ApiKeyOutcome> {
  if (!isWellFormedApiKey(key)) {
    return {
      code: "MALFORMED",
      keyId: null,
      userId: null,
      rateLimit: null,
      remaining: null,
      metadata: null,
      principal: null,
    };
  }
  const row = await checkKey(sql, sha256Hex(key), request, config);
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
    rateLimit,
    remaining: row.credits_remaining,
    metadata: row.metadata,
    principal: null,
  };
  if (row.code !== "VALID" || !row.key_id || !row.user_id) return outcome;

  const user = userProfile({
    id: row.user_id,
    email: row.user_email,
    name: row.user_name,
    role: row.user_role,
    tier: row.user_tier,
    created_at: row.user_created_at,
    email_verified_at: row.user_email_verified_at,
  });
  const scopes = effectiveScopes(row.scopes ?? [], user.role);
  outcome.principal = {
    kind: "api_key",
    userId: user.id,
    role: user.role,
    permissions: scopes.filter(isAdminPermission),
    credentialId: row.key_id,
    user,
    session: null,
    apiKey: { id: row.key_id, scopes },
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

const keyRefusals: Record<Exclude<ApiKeyCode, "VALID">, ApiError> = {
  MALFORMED: new ApiError("unauthorized", {
    message: "The API key is malformed; check that it was copied whole.",
  }),
  NOT_FOUND: new ApiError("unauthorized", { message: "The API key is not valid." }),
  REVOKED: new ApiError("unauthorized", { message: "The API key has been revoked." }),
  EXPIRED: new ApiError("unauthorized", { message: "The API key has expired." }),
  DISABLED: new ApiError("unauthorized", {
    message: "The API key is disabled; its owner or an admin can enable it again.",
  }),
  OWNER_BANNED: new ApiError("account_banned"),
  RATE_LIMITED: new ApiError("rate_limited"),
  USAGE_EXCEEDED: new ApiError("usage_exceeded"),
};

async function principalFor(c: AppContext, token: string): Promise<Principal> {
  const { config, sql } = c.get("runtime");
  if (config.LATCHKEY_IDENTITY === "supabase" && !isWellFormedApiKey(token)) {
    // Supabase Auth's access tokens are the sessions; Latchkey's own session tokens are not.
    const principal = looksLikeJwt(token)
      ? await authenticateSupabaseToken(config, sql, token, requestInfo(c))
      : null;
    if (principal) return principal;
    throw new ApiError("unauthorized", {
      message: "The Supabase Auth access token is invalid or expired, or its user is gone. " +
        "Sign in with Supabase Auth again.",
    });
  }
  if (looksLikeSessionToken(token) && !isWellFormedApiKey(token)) {
    const principal = await authenticateSessionToken(sql, token);
    // A session from before verification was required: sign-in would not give one now.
    if (
      principal && config.LATCHKEY_REQUIRE_EMAIL_VERIFICATION && !principal.user?.emailVerifiedAt
    ) {
      throw new ApiError("email_not_verified");
    }
    if (principal) return principal;
    throw new ApiError("unauthorized", {
      message: "The session token is invalid, expired or revoked. Sign in again.",
    });
  }
  const outcome = await authenticateApiKey(c.get("runtime"), token, requestInfo(c));
  if (outcome.principal) return outcome.principal;
  const refusal = keyRefusals[outcome.code as Exclude<ApiKeyCode, "VALID">];
  throw new ApiError(refusal.code, {
    message: refusal.message,
    headers: outcome.rateLimit ? rateLimitHeaders(outcome.rateLimit) : {},
  });
}

/** The static admin key as a principal: full admin, no user behind it. */
export const adminKeyPrincipal: Principal = {
  kind: "admin_key",
  userId: null,
  role: "admin",
  permissions: adminPermissions,
  credentialId: null,
  user: null,
  session: null,
  apiKey: null,
  rateLimit: null,
};

function adminKeyThrottled(retryAfter: number): ApiError {
  return new ApiError("too_many_requests", {
    message: "Too many wrong X-Admin-Key attempts from this client; retry later.",
    headers: { "Retry-After": String(retryAfter) },
  });
}

/**
 * Checks `X-Admin-Key` with one database call either way. A wrong key counts against the
 * client (audited once per client per minute); past the limit every attempt from that client,
 * right or wrong, answers 429, so a throttled guesser learns nothing. A right key's use is
 * audited before the route runs: if it cannot be recorded, it does not happen.
 */
async function authenticateAdminKey(c: AppContext, presented: string): Promise<void> {
  const { config, sql } = c.get("runtime");
  const entries = configuredAdminKeys(config);
  if (entries.length === 0) {
    throw new ApiError("unauthorized", {
      message: "X-Admin-Key is not enabled here (set LATCHKEY_ADMIN_KEY_SHA256 to enable it).",
    });
  }
  const client = throttleClient(c);
  const limit = config.LATCHKEY_ADMIN_KEY_MAX_FAILURES;
  const window = `${config.LATCHKEY_ADMIN_KEY_FAILURE_WINDOW_MINUTES} minutes`;
  const match = matchAdminKey(entries, presented);
  const expired = match?.expiresAt && match.expiresAt.getTime() <= Date.now()
    ? match.expiresAt
    : null;
  if (!match || expired) {
    const [{ retry_after }] = await withinTimeout(
      sql,
      sql<{ retry_after: number }[]>`
        select latchkey.record_admin_key_failure(${client}, ${limit}, ${window}::interval,
          ${requestJson(sql, requestInfo(c))}) as retry_after`,
    );
    if (retry_after > 0) throw adminKeyThrottled(retry_after);
    throw new ApiError("unauthorized", {
      message: expired
        ? `This X-Admin-Key ("${match!.name}") expired at ${expired.toISOString()}; use its ` +
          "successor from LATCHKEY_ADMIN_KEYS."
        : "The X-Admin-Key is not valid.",
    });
  }
  c.set("principal", adminKeyPrincipal);
  await asCaller(c, async (tx) => {
    const [{ retry_after }] = await tx<{ retry_after: number }[]>`
      select latchkey.throttle_retry_after('admin_key', ${client}, ${limit}, ${window}::interval)
          as retry_after,
        latchkey.record_audit_event('admin_key.used', null, null,
          jsonb_build_object('method', ${c.req.method}::text, 'path', ${requestPath(c)}::text,
            'name', ${match.name}::text))`;
    if (retry_after > 0) throw adminKeyThrottled(retry_after);
  });
}

export interface AuthenticateOptions {
  /** Refuse API keys with 403 `interactive_session_required`. */
  interactive?: boolean;
  /** Accept the static `X-Admin-Key` (admin routes only); every use is audited. */
  adminKey?: boolean;
}

/** Authenticates the request's credential into `principal`. */
export function authenticate(options: AuthenticateOptions = {}) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const presentedAdminKey = options.adminKey ? c.req.header("x-admin-key") : undefined;
    if (presentedAdminKey !== undefined) {
      await authenticateAdminKey(c, presentedAdminKey);
      await next();
      return;
    }
    const token = presentedCredential(c);
    if (!token) throw new ApiError("unauthorized");
    const principal = await principalFor(c, token);
    c.set("principal", principal);
    if (options.interactive && principal.kind !== "session") {
      throw new ApiError("interactive_session_required", {
        headers: principal.rateLimit ? rateLimitHeaders(principal.rateLimit) : {},
      });
    }
    // Before the route (after it, Hono would copy the finished response to add them).
    if (principal.rateLimit) {
      for (const [name, value] of Object.entries(rateLimitHeaders(principal.rateLimit))) {
        c.header(name, value);
      }
    }
    await next();
  });
}

/** Any credential: a session or an API key. */
export const requireCredential = authenticate();
/** Only an interactive session (sign-out, password change, minting keys). */
export const requireSession = authenticate({ interactive: true });

/** The path as sent (still percent-encoded), safe to store whatever bytes it names. */
function requestPath(c: AppContext): string {
  return withinFunction(new URL(c.req.url).pathname).slice(0, 500);
}

/** Refuses, with 403, a principal whose effective permissions lack `permission`. */
export function requirePermission(permission: AdminPermission) {
  return createMiddleware<AppEnv>(async (c, next) => {
    if (!c.get("principal").permissions.includes(permission)) {
      throw new ApiError("forbidden", { message: `This needs the ${permission} permission.` });
    }
    await next();
  });
}
