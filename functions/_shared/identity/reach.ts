import { ApiError } from "../ground/errors.ts";
import {
  type AdminPermission,
  isAdminPermission,
  type Principal,
  type Role,
  rolePermissions,
} from "../ground/principal.ts";

/**
 * A credential never reaches above itself: it may not act on an account whose role holds a
 * permission it lacks (else a users:write key sets an admin's password and signs in as them),
 * nor grant a permission it does not hold. RLS says the same (`caller_reaches_role`,
 * `caller_holds_scopes`); these checks come first so the answer names what is missing.
 */

/** The permissions of `role` that `principal` lacks; none means it reaches that role. */
export function permissionsBeyond(principal: Principal, role: Role): AdminPermission[] {
  return rolePermissions[role].filter((permission) => !principal.permissions.includes(permission));
}

/** The permissions that only read: they need no reach over the account they read. */
const readingPermissions: readonly AdminPermission[] = [
  "users:read",
  "keys:read",
  "audit:read",
  "orgs:read",
];

/**
 * What `principal` may do to an account with role `role`: every permission it holds when it
 * reaches that role, else only its reading ones (the API answers 403 to the rest). The console
 * offers an action on a user's page only when its permission is here.
 */
export function permissionsOver(principal: Principal, role: Role): AdminPermission[] {
  const reaches = permissionsBeyond(principal, role).length === 0;
  return principal.permissions.filter((permission) =>
    reaches || readingPermissions.includes(permission)
  );
}

/** 403 unless the principal holds every permission of `role`. `action`: "Setting a password". */
export function requireReach(principal: Principal, role: Role, action: string): void {
  const missing = permissionsBeyond(principal, role);
  if (missing.length) {
    throw new ApiError("forbidden", {
      message: `${action} on an account with role ${role} needs every permission that role ` +
        `holds; this credential lacks ${missing.join(", ")}.`,
    });
  }
}

/** 403 unless the principal holds every admin permission among `scopes`. */
export function requireHeldScopes(principal: Principal, scopes: readonly string[]): void {
  const missing = scopes.filter((scope) =>
    isAdminPermission(scope) && !principal.permissions.includes(scope)
  );
  if (missing.length) {
    throw new ApiError("forbidden", {
      message: `A credential cannot grant what it does not hold; this one lacks ${
        missing.join(", ")
      }.`,
    });
  }
}
