import {
  createRemoteJWKSet,
  type JWTPayload,
  jwtVerify,
  type JWTVerifyGetKey,
  type RemoteJWKSet,
} from "jose";
import type { Config } from "../config/config.ts";
import { ApiError } from "../ground/errors.ts";
import { supabaseAuthIssuerOf } from "../ground/fields.ts";
import { type RequestInfo, requestJson, type Sql, withStatementTimeout } from "../db/database.ts";
import type { AmrEntry, Principal } from "../ground/principal.ts";
import { userProfile, type UserRow } from "../accounts/users.ts";
import type { Runtime } from "../db/runtime.ts";

/** Supabase Auth's `amr` claim, the well-formed entries of it. */
function supabaseAmr(claim: unknown): AmrEntry[] {
  if (!Array.isArray(claim)) return [];
  return claim.filter((entry): entry is AmrEntry =>
    typeof entry?.method === "string" && typeof entry?.timestamp === "number"
  ).map(({ method, timestamp }) => ({ method, timestamp }));
}

/**
 * LATCHKEY_IDENTITY=supabase: Supabase Auth owns sign-up, sign-in and passwords, and its access
 * tokens are sessions here. A token is verified the way Supabase's own services do — against
 * the project's JWKS (`<SUPABASE_URL>/auth/v1/.well-known/jwks.json`, cached, fetched again when
 * a token names a `kid` it lacks) or, for HS256, the legacy JWT secret — with Supabase Auth's
 * issuer, audience and role; then one SQL call checks the auth user still exists and finds or
 * creates its Latchkey user (same id).
 */

/** Audience and database role Supabase gives signed-in users; PostgREST switches to the role. */
export const supabaseAudience = "authenticated";

/** A JWT's shape (three base64url parts, a JSON header): never a Latchkey token or key. */
export function looksLikeJwt(token: string): boolean {
  return /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);
}

/** Supabase Auth's issuer: the project URL's `/auth/v1`. */
export function supabaseAuthIssuer(config: Config): string {
  return supabaseAuthIssuerOf(config.SUPABASE_URL!);
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// A rotation shows up as an unknown `kid`: jose fetches the set again, at most every 5 s, so
// a flood of made-up `kid`s cannot turn into a flood of fetches.
const jwksCooldownMs = 5_000;
const jwksMaxAgeMs = 10 * 60_000;

const projectKeySets = new WeakMap<Config, RemoteJWKSet>();

/** The project's JWKS, Supabase Auth's signing keys, fetched and cached by jose. */
function projectKeySet(config: Config): RemoteJWKSet {
  let keySet = projectKeySets.get(config);
  if (!keySet) {
    keySet = createRemoteJWKSet(
      new URL(`${supabaseAuthIssuer(config)}/.well-known/jwks.json`),
      { cooldownDuration: jwksCooldownMs, cacheMaxAge: jwksMaxAgeMs },
    );
    projectKeySets.set(config, keySet);
  }
  return keySet;
}

const keyResolvers = new WeakMap<Config, JWTVerifyGetKey>();

function keyResolverFor(config: Config): JWTVerifyGetKey {
  let resolver = keyResolvers.get(config);
  if (!resolver) {
    const jwks = projectKeySet(config);
    const secret = config.LATCHKEY_SUPABASE_JWT_SECRET
      ? new TextEncoder().encode(config.LATCHKEY_SUPABASE_JWT_SECRET)
      : null;
    resolver = (header, token) => {
      if (header.alg === "HS256") {
        if (!secret) throw new Error("HS256 token, and LATCHKEY_SUPABASE_JWT_SECRET is not set");
        return secret;
      }
      return jwks(header, token);
    };
    keyResolvers.set(config, resolver);
  }
  return resolver;
}

/** The public half of a P-256 key, as compared with Supabase Auth's keys. */
export interface PublicEcKey {
  x: string;
  y: string;
}

/** `holds` null: the last fetch failed. */
const trustChecks = new WeakMap<Config, { holds: boolean | null; until: number }>();
// After a failed fetch the answer stays "unavailable" this long, so a flood of mints cannot
// become a flood of fetches to Supabase Auth.
const failedFetchPauseMs = 5_000;

/**
 * Whether Supabase Auth holds `key` among its own signing keys. Supabase Auth verifies a token
 * with whichever of its keys the header's `kid` names (or, for HS256, the project's legacy
 * secret), checks neither `iss` nor `aud`, and loads the user named by `sub`
 * (supabase/auth, `internal/api/auth.go`, `parseJWTClaims` and `maybeLoadUserOrSession`): a
 * token we sign with a key it holds is a Supabase Auth session of that user, good for
 * `PUT /auth/v1/user` (a new password). Read from the project's JWKS, at most every 10 minutes;
 * an unreadable JWKS throws `upstream_unavailable` (we never sign on a guess).
 */
export async function supabaseAuthHoldsKey(config: Config, key: PublicEcKey): Promise<boolean> {
  const known = trustChecks.get(config);
  if (known && known.until > Date.now()) {
    if (known.holds === null) throw supabaseKeysUnavailable();
    return known.holds;
  }
  const keySet = projectKeySet(config);
  try {
    if (!keySet.fresh) await keySet.reload();
  } catch (cause) {
    trustChecks.set(config, { holds: null, until: Date.now() + failedFetchPauseMs });
    throw supabaseKeysUnavailable(cause);
  }
  const holds = (keySet.jwks()?.keys ?? []).some((held) =>
    held.kty === "EC" && held.x === key.x && held.y === key.y
  );
  trustChecks.set(config, { holds, until: Date.now() + jwksMaxAgeMs });
  return holds;
}

function supabaseKeysUnavailable(cause?: unknown): ApiError {
  return new ApiError("upstream_unavailable", {
    message: "Supabase Auth's signing keys could not be read, and a token is signed only once " +
      "they show Latchkey's key is not among them; retry shortly.",
    cause,
  });
}

/** The verified claims of a Supabase Auth access token for a signed-in user, or null. */
export async function verifySupabaseAccessToken(
  config: Config,
  token: string,
): Promise<JWTPayload | null> {
  try {
    const { payload } = await jwtVerify(token, keyResolverFor(config), {
      issuer: supabaseAuthIssuer(config),
      audience: supabaseAudience,
      algorithms: ["ES256", "RS256", "HS256"],
      requiredClaims: ["sub", "exp"],
    });
    // The anon and service_role keys are JWTs of the same issuer, and nobody's session.
    if (payload.role !== supabaseAudience) return null;
    // Latchkey's own tokens name the key they were minted with; Supabase Auth's never do.
    if ("key_id" in payload) return null;
    if (!uuidPattern.test(payload.sub!)) return null;
    return payload;
  } catch {
    // Expired, forged, another project's, or its keys unreachable: not a session either way.
    return null;
  }
}

interface SupabaseUserRow extends UserRow {
  is_anonymous: boolean;
  role_permissions: string[];
}

/** A Supabase Auth access token as a session principal, or null when it is not one. */
export async function authenticateSupabaseToken(
  config: Config,
  sql: Sql,
  token: string,
  request: RequestInfo,
): Promise<Principal | null> {
  const claims = await verifySupabaseAccessToken(config, token);
  if (!claims) return null;
  const [row] = await withStatementTimeout(
    sql,
    sql<SupabaseUserRow[]>`
      select u.*, latchkey.role_permission_names(u.role) as role_permissions
      from latchkey.authenticate_supabase_user(
        ${claims.sub!}::uuid, ${config.LATCHKEY_BOOTSTRAP_ADMIN_EMAIL ?? null},
        ${requestJson(sql, request)}) as u`,
  );
  if (!row) return null;
  const user = userProfile(row);
  const sessionId = typeof claims.session_id === "string" && uuidPattern.test(claims.session_id)
    ? claims.session_id
    : null;
  return {
    kind: "session",
    userId: user.id,
    role: user.role,
    permissions: row.role_permissions,
    credentialId: sessionId,
    user,
    session: sessionId
      ? {
        id: sessionId,
        expiresAt: new Date(claims.exp! * 1000).toISOString(),
        aal: claims.aal === "aal2" ? "aal2" : "aal1",
        amr: supabaseAmr(claims.amr),
      }
      : null,
    apiKey: null,
    rateLimit: null,
    anonymous: row.is_anonymous || claims.is_anonymous === true,
  };
}

/**
 * With LATCHKEY_IDENTITY=supabase, what a presented token that is no API key must be: Supabase
 * Auth's access token is the session (Latchkey's own session tokens are not). Its principal,
 * or 401.
 */
export async function supabaseTokenPrincipal(
  { config, sql }: Runtime,
  token: string,
  request: RequestInfo,
): Promise<Principal> {
  const principal = looksLikeJwt(token)
    ? await authenticateSupabaseToken(config, sql, token, request)
    : null;
  if (principal) return principal;
  throw new ApiError("unauthorized", {
    message: "The Supabase Auth access token is invalid or expired, or its user is gone. " +
      "Sign in with Supabase Auth again.",
  });
}
