import type { Config } from "../config/config.ts";
import { ApiError } from "../ground/errors.ts";
import { type Role, rolePermissions } from "../ground/principal.ts";

/**
 * Checks requested key scopes: application scopes (LATCHKEY_SCOPES) are free for any role,
 * admin permissions only as far as `role` grants them. Returns them deduplicated; defaults to
 * ["compile"]. Unknown ones are a 400 that lists what is allowed.
 */
export function checkedScopes(config: Config, role: Role, requested?: string[]): string[] {
  const allowed = [...config.LATCHKEY_SCOPES, ...rolePermissions[role]];
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
