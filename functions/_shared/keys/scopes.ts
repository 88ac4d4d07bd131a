import type { Config } from "../config/config.ts";
import { ApiError } from "../ground/errors.ts";
import { type Role, rolePermissions } from "../ground/principal.ts";

/**
 * The requested scopes, deduplicated, if all are `allowed`; defaults to ["compile"]. Anything
 * else is a 400 naming each refused scope's place in `scopes` and what is allowed.
 */
function scopesWithin(
  allowed: readonly string[],
  requested: string[] | undefined,
  refused: { message: string; detail: string },
): string[] {
  const scopes = [...new Set(requested ?? ["compile"])];
  const unknown = scopes.filter((scope) => !allowed.includes(scope));
  if (unknown.length) {
    const listed = allowed.length ? allowed.join(", ") : "(none)";
    throw new ApiError("validation_failed", {
      message: `${refused.message}: ${unknown.join(", ")}. Allowed: ${listed}.`,
      details: unknown.map((scope) => ({
        path: requested ? `scopes.${requested.indexOf(scope)}` : "scopes",
        message: `"${scope}" ${refused.detail}. Allowed: ${listed}.`,
      })),
    });
  }
  return scopes;
}

/**
 * Checks requested key scopes: application scopes (LATCHKEY_SCOPES) are free for any role,
 * admin permissions only as far as `role` grants them. Returns them deduplicated; defaults to
 * ["compile"]. Unknown ones are a 400 that lists what is allowed.
 */
export function checkedScopes(config: Config, role: Role, requested?: string[]): string[] {
  return scopesWithin([...config.LATCHKEY_SCOPES, ...rolePermissions[role]], requested, {
    message: "Unknown scope(s)",
    detail: "is not an allowed scope",
  });
}

/**
 * What an organization lets its keys hold: its own list (`keyPermissions`, set by platform
 * staff), or by default what the role `user` may put on a key of its own.
 */
export function orgKeyCeiling(config: Config, keyPermissions: string[] | null): string[] {
  return keyPermissions ?? [...config.LATCHKEY_SCOPES, ...rolePermissions.user];
}

/** Checks an organization's key's requested scopes against the organization's ceiling. */
export function checkedOrgKeyScopes(
  config: Config,
  keyPermissions: string[] | null,
  requested?: string[],
): string[] {
  return scopesWithin(orgKeyCeiling(config, keyPermissions), requested, {
    message: "Scope(s) beyond what this organization's keys may hold",
    detail: "is not among what this organization's keys may hold",
  });
}
