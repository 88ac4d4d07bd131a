import { createMiddleware } from "hono/factory";
import { isWellFormedApiKey } from "../keys/api_key_format.ts";
import { looksLikeSessionToken } from "../ground/crypto.ts";
import { ApiError } from "../ground/errors.ts";
import type { AppContext, AppEnv } from "../http/context.ts";
import { requestInfo } from "../http/request.ts";
import { type AdminPermission, awaitsRequiredFactor, type Principal } from "../ground/principal.ts";
import { type ApiKeyCode, authenticateApiKey, rateLimitHeaders } from "./api_key_check.ts";
import { presentedCredential } from "./credentials.ts";
import { keyUseOf, networkRefusalMessage } from "../keys/network_limits.ts";
import { authenticateSessionToken } from "./session_tokens.ts";
import { authenticateAdminKey } from "./static_admin_key_check.ts";
import { supabaseTokenPrincipal } from "./supabase_identity.ts";

/**
 * The credential middleware: which check a presented credential goes to (X-Admin-Key where
 * the route takes it, else the Supabase Auth token, the session token or the API key), the
 * principal it becomes, and the refusals. The checks themselves live beside it, one a file.
 */

export const keyRefusals: Record<Exclude<ApiKeyCode, "VALID">, ApiError> = {
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
  ORG_SUSPENDED: new ApiError("org_suspended", {
    message: "The API key's organization is suspended; its keys work again when it is " +
      "unsuspended.",
  }),
  // The message names what was refused (networkRefusalMessage), as the route tells it.
  NETWORK_NOT_ALLOWED: new ApiError("network_not_allowed"),
  RATE_LIMITED: new ApiError("rate_limited"),
  USAGE_EXCEEDED: new ApiError("usage_exceeded"),
};

async function principalFor(
  c: AppContext,
  token: string,
  challengeToo: boolean,
): Promise<Principal> {
  const { config, sql } = c.get("runtime");
  if (config.LATCHKEY_IDENTITY === "supabase" && !isWellFormedApiKey(token)) {
    return await supabaseTokenPrincipal(c.get("runtime"), token, requestInfo(c));
  }
  if (looksLikeSessionToken(token) && !isWellFormedApiKey(token)) {
    const principal = await authenticateSessionToken(sql, token, challengeToo);
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
  const use = keyUseOf(c);
  const outcome = await authenticateApiKey(c.get("runtime"), token, requestInfo(c), use);
  if (outcome.principal) return outcome.principal;
  const refusal = keyRefusals[outcome.code as Exclude<ApiKeyCode, "VALID">];
  throw new ApiError(refusal.code, {
    message: outcome.code === "NETWORK_NOT_ALLOWED"
      ? networkRefusalMessage(outcome.networkRefusal, use, "request")
      : refusal.message,
    headers: outcome.rateLimit ? rateLimitHeaders(outcome.rateLimit) : {},
  });
}

export interface AuthenticateOptions {
  /** Refuse API keys with 403 `interactive_session_required`. */
  interactive?: boolean;
  /** Accept the static `X-Admin-Key` (admin routes only); every use is audited. */
  adminKey?: boolean;
  /**
   * Accept a sign-in's challenge (the routes that complete its second factor): `also`, beside
   * a session; `only`, nothing else. Anywhere else a challenge is an unknown session token.
   */
  challenge?: "also" | "only";
}

const challengeOnly = new ApiError("unauthorized", {
  message: "This takes only the challenge token that sign-in answered for an account with a " +
    "second factor.",
});

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
    // Not even looked up: an API key here would only be metered for a certain refusal.
    if (options.challenge === "only" && !looksLikeSessionToken(token)) throw challengeOnly;
    const found = await principalFor(c, token, options.challenge !== undefined);
    if (options.challenge === "only" && found.kind !== "mfa_challenge") throw challengeOnly;
    // Decided here, once, for the route gate (api/routes.ts) and the caller state PostgreSQL
    // reads (withCaller), so the two cannot disagree.
    const principal: Principal = {
      ...found,
      awaitsSecondFactor: awaitsRequiredFactor(
        found,
        c.get("runtime").config.LATCHKEY_MFA_REQUIRED_ROLES,
      ),
    };
    c.set("principal", principal);
    const interactive = principal.kind === "session" ||
      (principal.kind === "mfa_challenge" && options.challenge !== undefined);
    if (options.interactive && !interactive) {
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
/** A session or a sign-in's challenge (checking a second factor). */
export const requireSessionOrChallenge = authenticate({ interactive: true, challenge: "also" });
/** Only a sign-in's challenge (completing it with a recovery code). */
export const requireChallenge = authenticate({ interactive: true, challenge: "only" });

/** Refuses, with 403, a principal whose effective permissions lack `permission`. */
export function requirePermission(permission: AdminPermission) {
  return createMiddleware<AppEnv>(async (c, next) => {
    if (!c.get("principal").permissions.includes(permission)) {
      throw new ApiError("forbidden", { message: `This needs the ${permission} permission.` });
    }
    await next();
  });
}
