import type { Config } from "../config/config.ts";
import type { Transaction } from "../db/database.ts";
import { ApiError } from "../ground/errors.ts";

/**
 * A key's scopes are of two kinds: application scopes (LATCHKEY_SCOPES), and permissions of the
 * catalogue (Latchkey's own and the team's, latchkey.permissions), which a key holds only while
 * its owner may grant them: a user's key within its owner's role, an organization's key within
 * the organization's ceiling (`organizations.key_permissions`), which may narrow the application
 * scopes too. The database computes the permissions (latchkey.key_permission_names,
 * latchkey.org_key_ceiling) on the rows as they are now; these add the application scopes.
 */

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
 * Checks requested key scopes: each an application scope or a permission `rolePermissions`
 * (the owner's role's set as the database has it now) holds. Returns them deduplicated; defaults
 * to ["compile"]. Anything else is a 400 naming each failing scope and what is allowed.
 */
export function checkedScopes(
  config: Config,
  rolePermissions: readonly string[],
  requested?: string[],
): string[] {
  return scopesWithin([...config.LATCHKEY_SCOPES, ...rolePermissions], requested, {
    message: "Unknown scope(s)",
    detail: "is not an allowed scope",
  });
}

/**
 * The application scopes an organization lets its keys hold: all of them by default
 * (`keyPermissions` null), else those its list names.
 */
function orgKeyAppScopes(config: Config, keyPermissions: readonly string[] | null): string[] {
  return keyPermissions === null
    ? [...config.LATCHKEY_SCOPES]
    : config.LATCHKEY_SCOPES.filter((scope) => keyPermissions.includes(scope));
}

/**
 * Every scope an organization's key may hold now: the application scopes within its
 * `keyPermissions`, and `ceilingPermissions` (latchkey.org_key_ceiling).
 */
export function orgKeyScopes(
  config: Config,
  keyPermissions: readonly string[] | null,
  ceilingPermissions: readonly string[],
): string[] {
  return [...orgKeyAppScopes(config, keyPermissions), ...ceilingPermissions];
}

/**
 * Checks an organization's key's requested scopes against what the organization lets its keys
 * hold: the application scopes within its `keyPermissions`, and `ceilingPermissions`, the
 * team's permissions of its ceiling as the database has them now (latchkey.org_key_ceiling).
 */
export function checkedOrgKeyScopes(
  config: Config,
  keyPermissions: readonly string[] | null,
  ceilingPermissions: readonly string[],
  requested?: string[],
): string[] {
  return scopesWithin(
    orgKeyScopes(config, keyPermissions, ceilingPermissions),
    requested,
    {
      message: "Scope(s) beyond what this organization's keys may hold",
      detail: "is not among what this organization's keys may hold",
    },
  );
}

/**
 * A key's scopes as they count right now: the application scopes configured now (an
 * organization's key, `organization` given: within its ceiling), and `permissions`, the catalogue permissions the key
 * holds now (latchkey.key_permission_names: demote the owner, narrow the ceiling, or take a
 * permission from the role, and the key loses it at once). A scope that is neither — a
 * permission deleted from the catalogue, an application scope no longer configured — counts for
 * nothing.
 */
export function effectiveScopes(
  config: Config,
  scopes: readonly string[],
  permissions: readonly string[],
  organization: { keyPermissions: readonly string[] | null } | null = null,
): string[] {
  const appScopes = organization
    ? orgKeyAppScopes(config, organization.keyPermissions)
    : config.LATCHKEY_SCOPES;
  return scopes.filter((scope) => appScopes.includes(scope) || permissions.includes(scope));
}

/**
 * The team's permissions an organization's keys may hold now (latchkey.org_key_ceiling): those
 * of its `keyPermissions`, or by default those the platform role user holds; never one of
 * Latchkey's own.
 */
export async function orgKeyCeilingPermissions(
  tx: Transaction,
  keyPermissions: readonly string[] | null,
): Promise<string[]> {
  const [{ permissions }] = await tx<{ permissions: string[] }[]>`
    select latchkey.org_key_ceiling(${keyPermissions as string[] | null}::text[]) as permissions`;
  return permissions;
}

/**
 * A ceiling's names checked against the configuration and the catalogue as it is now: each an
 * application scope or one of the team's permissions (400 naming each other one: unknown, or one
 * of Latchkey's own, which an organization's key never holds). Returns them deduplicated, and
 * the permissions among them (which whoever sets them must hold).
 */
export async function checkedCeiling(
  tx: Transaction,
  config: Config,
  requested: string[],
): Promise<{ names: string[]; permissions: string[] }> {
  const names = [...new Set(requested)];
  const catalogue = await tx<{ name: string; built_in: boolean }[]>`
    select name, built_in from latchkey.permissions where name = any (${names}::text[])`;
  const builtIn = catalogue.filter((row) => row.built_in).map((row) => row.name);
  const permissions = catalogue.filter((row) => !row.built_in).map((row) => row.name);
  const refused = names.filter((name) =>
    !config.LATCHKEY_SCOPES.includes(name) && !permissions.includes(name)
  );
  if (refused.length) {
    throw new ApiError("validation_failed", {
      details: refused.map((name) => ({
        path: `keyPermissions.${requested.indexOf(name)}`,
        message: builtIn.includes(name)
          ? `"${name}" is one of Latchkey's own permissions, which an organization's key never ` +
            "holds (they are staff powers, a person's)."
          : `"${name}" is neither an application scope (${
            config.LATCHKEY_SCOPES.join(", ")
          }) nor one of the team's permissions (GET /admin/permissions).`,
      })),
    });
  }
  return { names, permissions };
}
