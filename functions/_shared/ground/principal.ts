/**
 * The one principal model: every credential (session, API key, admin key) resolves to this,
 * and authorization looks only at `permissions`, never at how the caller authenticated.
 */

export const roles = ["user", "support", "admin"] as const;
export type Role = typeof roles[number];

export const adminPermissions = [
  "users:read",
  "keys:read",
  "keys:revoke",
  "sessions:revoke",
  "audit:read",
  "users:write",
  "keys:write",
  "roles:write",
  "orgs:read",
  "orgs:write",
  "webhooks:read",
  "webhooks:write",
] as const;
export type AdminPermission = typeof adminPermissions[number];

/** API.md's role table. */
export const rolePermissions: Record<Role, readonly AdminPermission[]> = {
  user: [],
  support: [
    "users:read",
    "keys:read",
    "keys:revoke",
    "sessions:revoke",
    "audit:read",
    "orgs:read",
  ],
  admin: adminPermissions,
};

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
  permissions: readonly AdminPermission[];
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

export function isRole(value: string): value is Role {
  return (roles as readonly string[]).includes(value);
}

/** A role read from the database; anything unknown counts as the most powerful, so it is never under-protected. */
export function asRole(value: string | null): Role {
  return value !== null && isRole(value) ? value : "admin";
}

export function isAdminPermission(scope: string): scope is AdminPermission {
  return (adminPermissions as readonly string[]).includes(scope);
}

/**
 * A key's scopes as they count right now: application scopes always, admin permissions only
 * while the owner's role still grants them (demote the owner and the key loses them at once).
 */
export function effectiveScopes(scopes: readonly string[], role: Role): string[] {
  return scopes.filter((scope) =>
    !isAdminPermission(scope) || rolePermissions[role].includes(scope)
  );
}

/**
 * An organization's key's scopes as they count right now: those within what the organization
 * lets its keys hold (`ceiling`, set by platform staff), or by default within what the role
 * `user` may put on a key of its own. Narrow the ceiling and its keys lose the rest at once.
 */
export function orgKeyScopes(
  scopes: readonly string[],
  ceiling: readonly string[] | null,
): string[] {
  return ceiling === null
    ? effectiveScopes(scopes, "user")
    : scopes.filter((scope) => ceiling.includes(scope));
}

/**
 * True for a session at aal1 whose role is one of `requiredRoles`. A session with no recorded
 * level (a Supabase Auth token without a session id) counts as aal1. API keys and the admin
 * key are not sessions: a machine has no second factor to give.
 */
export function awaitsRequiredFactor(
  principal: Principal,
  requiredRoles: readonly Role[],
): boolean {
  return principal.kind === "session" && requiredRoles.includes(principal.role) &&
    principal.session?.aal !== "aal2";
}
