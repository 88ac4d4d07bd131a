import type { Transaction } from "../_shared/db/database.ts";
import { ApiError } from "../_shared/ground/errors.ts";
import type { AppContext } from "../_shared/http/context.ts";
import { pathId } from "../_shared/http/ids.ts";
import { type KeyAccess, noSuchKey, ownedKeyAccess } from "../_shared/keys/key_lifecycle.ts";
import {
  type MemberOrgRow,
  orgIdParam,
  readOrg,
  requireOrgPermission,
  requireOrgRolePermission,
} from "../_shared/orgs/organizations.ts";

/**
 * The routes of an organization's keys (`/orgs/:id/keys...`): the personal keys' lifecycle
 * (_shared/keys/key_lifecycle.ts) with the organization as the owner. Who may read and change
 * them is the policies' to decide, from the caller's membership (keys:read, keys:write); these
 * ask first only to word the refusal: not a member, 404; a member without the permission, 403.
 */

/** The `:id` and `:keyId` of `/orgs/:id/keys/:keyId`: a key of another organization is a 404. */
export function orgKeyParams(c: AppContext): { orgId: string; keyId: string } {
  return { orgId: orgIdParam(c), keyId: pathId(c.req.param("keyId"), noSuchKey) };
}

/** The organization's keys as the caller sees them. */
export function orgKeyAccess(orgId: string): KeyAccess {
  return ownedKeyAccess(
    { orgId },
    new ApiError("forbidden", {
      message: "Changing the organization's keys needs keys:write in it, while it is active.",
    }),
  );
}

/** The organization, for a member who may read its keys (keys:read or keys:write); else 403. */
export async function orgForKeyReader(tx: Transaction, orgId: string): Promise<MemberOrgRow> {
  const org = await readOrg(tx, orgId);
  if (!org.permissions.includes("keys:read") && !org.permissions.includes("keys:write")) {
    throw new ApiError("forbidden", {
      message: `Reading the organization's keys needs keys:read in it; the role ${
        org.role ?? "(none)"
      } lacks it.`,
    });
  }
  return org;
}

/**
 * The organization, for a member who may change its keys (keys:write); else 403, and
 * `org_suspended` while it is suspended, unless `evenSuspended` (revoking only takes power away).
 */
export async function orgForKeyWriter(
  tx: Transaction,
  orgId: string,
  action: string,
  { evenSuspended = false } = {},
): Promise<MemberOrgRow> {
  const org = await readOrg(tx, orgId);
  if (evenSuspended) requireOrgRolePermission(org, "keys:write", action);
  else requireOrgPermission(org, "keys:write", action);
  return org;
}
