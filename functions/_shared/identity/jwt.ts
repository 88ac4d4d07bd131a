import { importJWK, type JWK, SignJWT } from "jose";
import type { Config } from "../config/config.ts";
import { ApiError } from "../ground/errors.ts";
import { issuerUrl } from "../ground/fields.ts";
import type { Aal, AmrEntry, Principal, Role } from "../ground/principal.ts";
import { type Sql, withStatementTimeout } from "../db/database.ts";
import type { Runtime } from "../db/runtime.ts";
import type { TokenOrganization } from "../orgs/organizations.ts";
import { supabaseAudience, supabaseAuthHoldsKey } from "./supabase_identity.ts";

/**
 * Access tokens for Supabase's Data API: a Latchkey session or API key turned into a short-lived
 * JWT with Supabase's claim shape, so PostgREST sets `role` to `authenticated` and `auth.uid()`
 * is the Latchkey user. Signed ES256 with the first key of LATCHKEY_JWT_SIGNING_KEYS (every
 * public half is published, so a new key can be added before the old one goes) or HS256 with
 * LATCHKEY_JWT_SECRET, a project's legacy JWT secret. jose does the signing.
 */

interface Signer {
  alg: "ES256" | "HS256";
  kid?: string;
  key: CryptoKey | Uint8Array;
  /** The public half (ES256), compared with the keys Supabase Auth holds. */
  publicKey?: { x: string; y: string };
}

const signers = new WeakMap<Config, Promise<Signer | null>>();

/** The configured signer, imported once per configuration; null when none is configured. */
function signerFor(config: Config): Promise<Signer | null> {
  let signer = signers.get(config);
  if (!signer) {
    signer = importSigner(config);
    signers.set(config, signer);
  }
  return signer;
}

async function importSigner(config: Config): Promise<Signer | null> {
  const [first] = config.LATCHKEY_JWT_SIGNING_KEYS ?? [];
  if (first) {
    return {
      alg: "ES256",
      kid: first.kid,
      key: await importJWK(first as JWK, "ES256") as CryptoKey,
      publicKey: { x: first.x, y: first.y },
    };
  }
  if (config.LATCHKEY_JWT_SECRET) {
    return { alg: "HS256", key: new TextEncoder().encode(config.LATCHKEY_JWT_SECRET) };
  }
  return null;
}

/** The public halves of every configured signing key, for `/.well-known/jwks.json`. */
export function publicJwks(config: Config): JWK[] {
  return (config.LATCHKEY_JWT_SIGNING_KEYS ?? []).map(({ kty, crv, x, y, kid }) => ({
    kty,
    crv,
    x,
    y,
    kid,
    alg: "ES256",
    use: "sig",
  }));
}

/** The algorithm tokens are signed with, if any. */
export function signingAlgorithm(config: Config): "ES256" | "HS256" | null {
  if (config.LATCHKEY_JWT_SIGNING_KEYS?.length) return "ES256";
  return config.LATCHKEY_JWT_SECRET ? "HS256" : null;
}

/**
 * `iss`: LATCHKEY_JWT_ISSUER; else the auth function's public URL on the project
 * (SUPABASE_URL, which Supabase sets inside functions); else the URL this request came to, up to
 * the function's name (the local gateway). A verifier compares it with the issuer it trusts.
 */
export function issuerFor(config: Config, requestUrl: string): string {
  const configured = configuredIssuer(config);
  if (configured) return configured;
  // Development only (config refuses a signer without an issuer elsewhere): the request's Host.
  const url = new URL(requestUrl);
  const at = url.pathname.indexOf("/auth/");
  return `${url.origin}${at >= 0 ? url.pathname.slice(0, at) : ""}/auth`;
}

/** The issuer the configuration fixes, if it does: LATCHKEY_JWT_ISSUER, else SUPABASE_URL's. */
export function configuredIssuer(config: Config): string | null {
  if (config.LATCHKEY_JWT_ISSUER) return issuerUrl(config.LATCHKEY_JWT_ISSUER);
  if (config.SUPABASE_URL) return `${issuerUrl(config.SUPABASE_URL)}/functions/v1/auth`;
  return null;
}

/**
 * What a key's token says its bearer is: of its owner's role and the built-in ones, the role
 * with the most permissions whose every permission the key holds (latchkey.token_role, on the
 * roles as they are now), so a policy on `app_role` never grants a key more than its scopes (an
 * admin's `users:read` key is a `user` there). A session carries its user's role.
 */
export async function tokenRole(sql: Sql, principal: Principal): Promise<Role> {
  if (principal.kind !== "api_key") return principal.role;
  const [{ role }] = await withStatementTimeout(
    sql,
    sql<{ role: string }[]>`
      select latchkey.token_role(${principal.role}, ${[...principal.permissions]}::text[]) as role`,
  );
  return role;
}

/**
 * Supabase Auth's `aal` and `amr`, so a team's policy `(auth.jwt() ->> 'aal') = 'aal2'` works
 * on our tokens unchanged. A key is not a person who proved a second factor: its token is
 * `aal1`, and its one method is the key, used now.
 */
export function assuranceClaims(
  principal: Principal,
  issuedAt: number,
): { aal: Aal; amr: AmrEntry[] } {
  if (principal.kind === "api_key") {
    return { aal: "aal1", amr: [{ method: "api_key", timestamp: issuedAt }] };
  }
  return { aal: principal.session?.aal ?? "aal1", amr: principal.session?.amr ?? [] };
}

/**
 * What `latchkey.org_id()`, `latchkey.org_role()` and `latchkey.has_permission()` read in a
 * team's policies: `permissions`, what the credential may do now (a session's role's, a key's
 * effective scopes), and with an organization its id, the caller's role there and that role's
 * organization permissions added. An organization's key always speaks for its organization, as
 * no member of it (`org_role` null), with its own effective permissions (its scopes within the
 * organization's ceiling). Computed when the token is minted, so a change shows in tokens minted
 * after it (at most LATCHKEY_JWT_TTL_SECONDS later).
 */
export function organizationClaims(
  principal: Principal,
  organization: TokenOrganization | null,
): { permissions: string[]; org_id?: string; org_role?: string | null } {
  const ownerOrg = principal.apiKey?.orgId;
  if (ownerOrg) {
    return { permissions: [...principal.permissions], org_id: ownerOrg, org_role: null };
  }
  if (!organization) return { permissions: [...principal.permissions] };
  return {
    permissions: [...new Set([...principal.permissions, ...organization.permissions])].sort(),
    org_id: organization.id,
    org_role: organization.role,
  };
}

/**
 * `sub`, which `auth.uid()` answers: the user; for an organization's key, which acts for no
 * person, the key's own id, a machine principal whose `auth.uid()` is no user's, so a policy on
 * users' rows gives it nothing (an absent `sub` would pass for whichever policy reads a missing
 * user as nobody's, `user_id is not distinct from auth.uid()` on rows without one).
 */
function tokenSubject(principal: Principal): string {
  if (principal.userId) return principal.userId;
  if (principal.apiKey?.orgId) return principal.apiKey.id;
  // The static admin key: no route mints for it (the token route takes sessions and keys).
  throw new ApiError("forbidden", { message: "This credential has no subject for a token." });
}

export interface AccessToken {
  access_token: string;
  token_type: "bearer";
  expires_in: number;
  /** Seconds since the epoch, as Supabase Auth answers it. */
  expires_at: number;
}

/** Signs an access token for a session's or an API key's principal. */
export async function mintAccessToken(
  { config, sql }: Pick<Runtime, "config" | "sql">,
  principal: Principal,
  issuer: string,
  organization: TokenOrganization | null = null,
): Promise<AccessToken> {
  const signer = await signerFor(config);
  if (!signer) {
    throw new ApiError("not_configured", {
      message: "No token signing is configured: set LATCHKEY_JWT_SIGNING_KEYS (ES256, see " +
        "`deno task jwt:keygen`) or LATCHKEY_JWT_SECRET (the project's legacy JWT secret).",
    });
  }
  // LATCHKEY_IDENTITY=supabase: `sub` is an auth.users id, so a key Supabase Auth also holds
  // would make every minted token a Supabase Auth session (config refuses the shared secret).
  if (
    config.LATCHKEY_IDENTITY === "supabase" && signer.publicKey &&
    await supabaseAuthHoldsKey(config, signer.publicKey)
  ) {
    throw new ApiError("not_configured", {
      message: "Latchkey's signing key is one of Supabase Auth's own keys, so its tokens would " +
        "be Supabase Auth sessions: remove it from the project's JWT signing keys and register " +
        "Latchkey as a third-party (custom OIDC) issuer instead.",
    });
  }
  const issuedAt = Math.floor(Date.now() / 1000);
  const expiresIn = config.LATCHKEY_JWT_TTL_SECONDS;
  // A key's scopes twice: as a list, and space-separated as OAuth's `scope` (RFC 9068, 8693).
  const credential = principal.kind === "api_key"
    ? {
      key_id: principal.credentialId,
      scopes: principal.apiKey?.scopes ?? [],
      scope: (principal.apiKey?.scopes ?? []).join(" "),
    }
    : { session_id: principal.credentialId };
  const token = await new SignJWT({
    role: supabaseAudience,
    app_role: await tokenRole(sql, principal),
    email: principal.user?.email,
    // Supabase Auth's claim: a policy on `email` must also check this.
    email_verified: principal.user?.emailVerifiedAt != null,
    is_anonymous: principal.anonymous === true,
    ...assuranceClaims(principal, issuedAt),
    ...credential,
    ...organizationClaims(principal, organization),
  })
    .setProtectedHeader({ alg: signer.alg, typ: "JWT", ...(signer.kid ? { kid: signer.kid } : {}) })
    .setIssuer(issuer)
    .setSubject(tokenSubject(principal))
    .setAudience(supabaseAudience)
    .setIssuedAt(issuedAt)
    .setNotBefore(issuedAt)
    .setExpirationTime(issuedAt + expiresIn)
    .setJti(crypto.randomUUID())
    .sign(signer.key);
  return {
    access_token: token,
    token_type: "bearer",
    expires_in: expiresIn,
    expires_at: issuedAt + expiresIn,
  };
}
