import type { Config } from "../config/config.ts";
import { ApiError } from "../ground/errors.ts";

/**
 * A key's scopes are of two kinds: application scopes (LATCHKEY_SCOPES), free for any role, and
 * permissions of the catalogue (Latchkey's own and the team's, latchkey.permissions), which a key
 * holds only while its owner's role does. `rolePermissions` is that role's set as the database
 * has it now.
 */

/**
 * Checks requested key scopes: each an application scope or a permission `rolePermissions`
 * holds. Returns them deduplicated; defaults to ["compile"]. Anything else is a 400 naming each
 * failing scope and what is allowed.
 */
export function checkedScopes(
  config: Config,
  rolePermissions: readonly string[],
  requested?: string[],
): string[] {
  const allowed = [...config.LATCHKEY_SCOPES, ...rolePermissions];
  const scopes = [...new Set(requested ?? ["compile"])];
  const unknown = scopes.filter((scope) => !allowed.includes(scope));
  if (unknown.length) {
    throw new ApiError("validation_failed", {
      message: `Unknown scope(s): ${unknown.join(", ")}. Allowed: ${allowed.join(", ")}.`,
      details: unknown.map((scope) => ({
        path: `scopes.${(requested ?? []).indexOf(scope)}`,
        message: `"${scope}" is not an allowed scope. Allowed: ${allowed.join(", ")}.`,
      })),
    });
  }
  return scopes;
}

/**
 * A key's scopes as they count right now: the application scopes configured now, and the
 * permissions its owner's role holds now (demote the owner, or take a permission from the role,
 * and the key loses it at once). A scope that is neither — a permission deleted from the
 * catalogue, an application scope no longer configured — counts for nothing.
 */
export function effectiveScopes(
  config: Config,
  scopes: readonly string[],
  rolePermissions: readonly string[],
): string[] {
  return scopes.filter((scope) =>
    config.LATCHKEY_SCOPES.includes(scope) || rolePermissions.includes(scope)
  );
}
