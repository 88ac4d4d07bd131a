/**
 * The one principal model: every credential (session, API key, admin key) resolves to this,
 * and authorization looks only at `permissions`, never at how the caller authenticated.
 */

/**
 * Roles are rows of latchkey.roles (issue 29, item 3): these three are built in and never go;
 * the team adds its own at runtime. What a role holds is read from latchkey.role_permissions on
 * every request, never from here.
 */
export const builtInRoles = ["user", "support", "admin"] as const;
/** A role's name: a built-in one or one of the team's. */
export type Role = string;

/** A role's name (latchkey.roles, latchkey.org_roles): lowercase, as the database checks it. */
export const roleNamePattern = /^[a-z][a-z0-9_-]{0,31}$/;

/**
 * A permission's name, `resource:action` (latchkey.permissions): Latchkey's own below, and the
 * team's (`notes:read`, `invoices:write`) registered through the admin API.
 */
export const permissionNamePattern = /^[a-z][a-z0-9_-]{0,31}:[a-z][a-z0-9_-]{0,31}$/;

/** Latchkey's own permissions: what its routes declare and check. */
export const adminPermissions = [
  "users:read",
  "keys:read",
  "keys:revoke",
  "sessions:revoke",
  "audit:read",
  "users:write",
  "keys:write",
  "roles:read",
  "roles:write",
  "orgs:read",
  "orgs:write",
  "webhooks:read",
  "webhooks:write",
] as const;
export type AdminPermission = typeof adminPermissions[number];

/**
 * `mfa_challenge`: what a right password gives an account with a confirmed second factor, good
 * only on the routes that declare `challenge` (the factor routes that complete the sign-in).
 */
export type PrincipalKind = "session" | "api_key" | "admin_key" | "mfa_challenge";

/** Authenticator assurance level, as Supabase Auth names it: aal2 after a second factor. */
export type Aal = "aal1" | "aal2";

/** A method a session's sign-in used (Supabase Auth's `amr`): `timestamp` in epoch seconds. */
export interface AmrEntry {
  method: string;
  timestamp: number;
}

/**
 * The `amr` methods that are a second factor (Latchkey's own, and Supabase Auth's names for
 * theirs): what a step-up counts. A password, a magic link or an email code is not one, and
 * neither is Supabase Auth's `passkey`: that is a passkey used to sign in, an aal1 first factor
 * there (its second-factor WebAuthn is `mfa/webauthn`).
 */
export const secondFactorMethods: readonly string[] = [
  "totp",
  "recovery_code",
  "webauthn",
  "mfa/totp",
  "mfa/phone",
  "mfa/webauthn",
];

/** When the session last verified a second factor (epoch seconds), from its `amr`; or null. */
export function secondFactorVerifiedAt(session: { amr: AmrEntry[] } | null): number | null {
  const times = (session?.amr ?? [])
    .filter((entry) => secondFactorMethods.includes(entry.method))
    .map((entry) => entry.timestamp)
    .filter((timestamp) => Number.isFinite(timestamp));
  return times.length ? Math.max(...times) : null;
}

export interface SessionInfo {
  id: string;
  expiresAt: string;
  aal: Aal;
  amr: AmrEntry[];
}

export interface UserProfile {
  id: string;
  name: string;
  email: string;
  role: Role;
  tier: string;
  createdAt: string;
  /** When the address was proven the user's (a link followed); null until then. */
  emailVerifiedAt: string | null;
}

export interface RateLimitState {
  limit: number;
  remaining: number;
  resetAt: string;
}

export interface Principal {
  kind: PrincipalKind;
  /** The acting user; null for the static admin key and an organization's API key. */
  userId: string | null;
  role: Role;
  /**
   * What it may do now: a session's role's permissions, an API key's scopes within its owner's
   * role (an organization's key: within its organization's ceiling, and never one of Latchkey's
   * own), read from the database for this request (Latchkey's own and the team's).
   */
  permissions: readonly string[];
  /** The session or API key id; null for the static admin key. */
  credentialId: string | null;
  user: UserProfile | null;
  /** The session (or, for `mfa_challenge`, the challenge) the credential is. */
  session: SessionInfo | null;
  /**
   * Set when the credential is an API key: its id, its scopes as effective now, and the
   * organization that owns it (null for a user's key).
   */
  apiKey: { id: string; scopes: string[]; orgId: string | null } | null;
  rateLimit: RateLimitState | null;
  /** An anonymous Supabase Auth user (LATCHKEY_IDENTITY=supabase): may not create API keys. */
  anonymous?: boolean;
  /**
   * A session whose role must use a second factor (LATCHKEY_MFA_REQUIRED_ROLES) that has not
   * verified one: set by authentication (`awaitsRequiredFactor`). Such a session may call only
   * the routes that lead to a factor, and PostgreSQL grants it no permission.
   */
  awaitsSecondFactor?: boolean;
}

export function isBuiltInRole(role: string): boolean {
  return (builtInRoles as readonly string[]).includes(role);
}

/** One of Latchkey's own permissions (not an application scope, not one of the team's). */
export function isAdminPermission(scope: string): scope is AdminPermission {
  return (adminPermissions as readonly string[]).includes(scope);
}

/**
 * Whether sessions of `role` must verify a second factor: the roles LATCHKEY_MFA_REQUIRED_ROLES
 * lists, and, unless that list is empty (no requirement at all), every custom role holding one
 * of Latchkey's own permissions: a role made at runtime with admin powers is held to what
 * support and admin are, without anyone remembering to list it.
 */
export function roleNeedsSecondFactor(
  role: Role,
  rolePermissions: readonly string[],
  requiredRoles: readonly Role[],
): boolean {
  return requiredRoles.includes(role) ||
    (requiredRoles.length > 0 && !isBuiltInRole(role) && rolePermissions.some(isAdminPermission));
}

/**
 * True for a session at aal1 whose role needs a second factor (`roleNeedsSecondFactor`; a
 * session's permissions are its role's). A session with no recorded level (a Supabase Auth
 * token without a session id) counts as aal1. API keys and the admin key are not sessions: a
 * machine has no second factor to give.
 */
export function awaitsRequiredFactor(
  principal: Principal,
  requiredRoles: readonly Role[],
): boolean {
  return principal.kind === "session" &&
    roleNeedsSecondFactor(principal.role, principal.permissions, requiredRoles) &&
    principal.session?.aal !== "aal2";
}
