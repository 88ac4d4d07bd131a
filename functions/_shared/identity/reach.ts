import type { Transaction } from "../db/database.ts";
import { ApiError } from "../ground/errors.ts";
import type { Principal } from "../ground/principal.ts";

/**
 * A credential never reaches above itself: it may not act on an account whose role holds a
 * permission it lacks (else a users:write key sets an admin's password and signs in as them),
 * nor grant, assign or put into a role a permission it does not hold. RLS says the same
 * (`caller_reaches_role`, `caller_holds_scopes`, the role tables' policies); these checks come
 * first so the answer names what is missing. A role's set is read from the database
 * (`roleSet`): roles change at runtime.
 */

/** A role and the permissions it holds now. */
export interface RoleSet {
  name: string;
  permissions: readonly string[];
}

/** The role's permissions as the database has them now; null when there is no such role. */
export async function roleSet(tx: Transaction, name: string): Promise<RoleSet | null> {
  const [row] = await tx<{ permissions: string[] }[]>`
    select latchkey.role_permission_names(name) as permissions
    from latchkey.roles where name = ${name}`;
  return row ? { name, permissions: row.permissions } : null;
}

/** The permissions of `role` that `principal` lacks; none means it reaches that role. */
export function permissionsBeyond(principal: Principal, role: RoleSet): string[] {
  return role.permissions.filter((permission) => !principal.permissions.includes(permission));
}

/** The permissions that only read: they need no reach over the account they read. */
const readingPermissions: readonly string[] = [
  "users:read",
  "keys:read",
  "audit:read",
  "orgs:read",
  "roles:read",
];

/**
 * What `principal` may do to an account with role `role`: every permission it holds when it
 * reaches that role, else only its reading ones (the API answers 403 to the rest). The console
 * offers an action on a user's page only when its permission is here.
 */
export function permissionsOver(principal: Principal, role: RoleSet): string[] {
  const reaches = permissionsBeyond(principal, role).length === 0;
  return principal.permissions.filter((permission) =>
    reaches || readingPermissions.includes(permission)
  );
}

/**
 * 403 unless the principal holds every permission of `role`. `action`: "Setting a password";
 * `target`: what it is done to, by default an account holding the role.
 */
export function requireReach(
  principal: Principal,
  role: RoleSet,
  action: string,
  target = `on an account with role ${role.name}`,
): void {
  const missing = permissionsBeyond(principal, role);
  if (missing.length) {
    throw new ApiError("forbidden", {
      message: `${action} ${target} needs every permission that role holds; this credential ` +
        `lacks ${missing.join(", ")}.`,
    });
  }
}

/** 403 unless the principal holds every one of `permissions` (catalogue permissions it grants). */
export function requireHeld(principal: Principal, permissions: readonly string[]): void {
  const missing = permissions.filter((permission) => !principal.permissions.includes(permission));
  if (missing.length) {
    throw new ApiError("forbidden", {
      message: `A credential cannot grant what it does not hold; this one lacks ${
        missing.join(", ")
      }.`,
    });
  }
}
