import { createRemoteJWKSet, type JWTPayload, jwtVerify, type JWTVerifyGetKey } from "jose";
import type { Config } from "./config.ts";
import { type RequestInfo, requestJson, type Sql, withinTimeout } from "./database.ts";
import { supabaseAudience } from "./jwt.ts";
import { type Principal, rolePermissions } from "./principal.ts";
import { userProfile, type UserRow } from "./users.ts";

/**
 * LATCHKEY_IDENTITY=supabase: Supabase Auth owns sign-up, sign-in and passwords, and its access
 * tokens are sessions here. A token is verified the way Supabase's own services do — against
 * the project's JWKS (`<SUPABASE_URL>/auth/v1/.well-known/jwks.json`, cached, fetched again when
 * a token names a `kid` it lacks) or, for HS256, the legacy JWT secret — with Supabase Auth's
 * issuer, audience and role; then one SQL call checks the auth user still exists and finds or
 * creates its Latchkey user (same id).
 */

/** A JWT's shape (three base64url parts, a JSON header): never a Latchkey token or key. */
export function looksLikeJwt(token: string): boolean {
  return /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);
}

/** Supabase Auth's issuer: the project URL's `/auth/v1`. */
export function supabaseAuthIssuer(config: Config): string {
  return `${config.SUPABASE_URL!.replace(/\/+$/, "")}/auth/v1`;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// A rotation shows up as an unknown `kid`: jose fetches the set again, at most every 5 s, so
// a flood of made-up `kid`s cannot turn into a flood of fetches.
const jwksCooldownMs = 5_000;
const jwksMaxAgeMs = 10 * 60_000;

const keyResolvers = new WeakMap<Config, JWTVerifyGetKey>();

function keyResolverFor(config: Config): JWTVerifyGetKey {
  let resolver = keyResolvers.get(config);
  if (!resolver) {
    const jwks = createRemoteJWKSet(
      new URL(`${supabaseAuthIssuer(config)}/.well-known/jwks.json`),
      { cooldownDuration: jwksCooldownMs, cacheMaxAge: jwksMaxAgeMs },
    );
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
    if (!uuidPattern.test(payload.sub!)) return null;
    return payload;
  } catch {
    // Expired, forged, another project's, or its keys unreachable: not a session either way.
    return null;
  }
}

interface SupabaseUserRow extends UserRow {
  is_anonymous: boolean;
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
  const [row] = await withinTimeout(
    sql,
    sql<SupabaseUserRow[]>`
      select * from latchkey.authenticate_supabase_user(
        ${claims.sub!}::uuid, ${config.LATCHKEY_BOOTSTRAP_ADMIN_EMAIL ?? null},
        ${requestJson(sql, request)})`,
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
    permissions: rolePermissions[user.role],
    credentialId: sessionId,
    user,
    session: sessionId
      ? { id: sessionId, expiresAt: new Date(claims.exp! * 1000).toISOString() }
      : null,
    apiKey: null,
    rateLimit: null,
    anonymous: row.is_anonymous || claims.is_anonymous === true,
  };
}
