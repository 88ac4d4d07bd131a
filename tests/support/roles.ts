import { adminPermissions } from "../../functions/_shared/ground/principal.ts";

/**
 * What the migrations give the built-in roles (latchkey.role_permissions as seeded): roles are
 * rows the admin API changes, so the code reads them from the database; tests that expect the
 * defaults take them from here (tests/local/permissions_test.ts keeps this equal to a fresh
 * database's rows).
 */
export const seededRolePermissions: Readonly<Record<string, readonly string[]>> = {
  user: [],
  support: [
    "users:read",
    "keys:read",
    "keys:revoke",
    "sessions:revoke",
    "audit:read",
    "roles:read",
    "orgs:read",
  ],
  admin: adminPermissions,
};
