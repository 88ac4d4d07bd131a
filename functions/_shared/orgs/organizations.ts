import { z } from "zod";
import type { Transaction } from "../db/database.ts";
import { ApiError } from "../ground/errors.ts";
import type { AppContext } from "../http/context.ts";
import { pathId } from "../http/ids.ts";
import { listPage, pageQuery } from "../http/pagination.ts";

/**
 * Organizations as both functions see them: `orgs` for their members, `admin` for the
 * platform's staff. PostgreSQL decides who reads and changes what (the policies of
 * latchkey.organizations and latchkey.org_memberships); these read as the caller, and answer
 * the database's refusals with words.
 */

/** The built-in organization roles; custom ones (issue 29, item 3) join the catalogue in SQL. */
export const orgRoles = ["owner", "admin", "member"] as const;
export const orgRoleSchema = z.enum(orgRoles);

export const orgNameSchema = z.string().trim().min(1, "Enter a name.").max(200)
  // deno-lint-ignore no-control-regex -- the point: no control characters in a name mailed out
  .regex(/^[^\u0000-\u001f\u007f]*$/, "No control characters.")
  .meta({ examples: ["Acme"] });

export const slugSchema = z.string().trim().toLowerCase()
  .regex(
    /^[a-z0-9]([a-z0-9-]{0,46}[a-z0-9])?$/,
    "1 to 48 lowercase letters, digits and inner hyphens.",
  )
  .meta({ examples: ["acme"] });

export const noSuchOrgText = "No such organization of yours.";

/** The `:id` of an `/orgs/:id` route. */
export function orgIdParam(c: AppContext, notFound = noSuchOrgText): string {
  return pathId(c.req.param("id"), notFound);
}

export const orgColumns = [
  "id",
  "name",
  "slug",
  "created_by",
  "created_at",
  "updated_at",
  "suspended_at",
  "suspension_reason",
  "key_permissions",
] as const;

export interface OrgRow {
  id: string;
  name: string;
  slug: string;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
  suspended_at: Date | null;
  suspension_reason: string | null;
  /** What its keys may hold; null: what the platform role user may put on its own keys. */
  key_permissions: string[] | null;
}

/** An organization with the caller's role in it and what that role may do there. */
export interface MemberOrgRow extends OrgRow {
  role: string | null;
  permissions: string[];
}

export function orgView(row: OrgRow) {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    suspended: row.suspended_at !== null,
    suspendedAt: row.suspended_at,
    keyPermissions: row.key_permissions,
  };
}

/** What a member sees: the organization, their role and their organization permissions. */
export function memberOrgView(row: MemberOrgRow) {
  return { ...orgView(row), role: row.role, permissions: row.permissions };
}

/** What the platform's staff see. */
export function adminOrgView(row: OrgRow) {
  return { ...orgView(row), suspensionReason: row.suspension_reason, createdBy: row.created_by };
}

/**
 * The organization as the caller may see it, with their role; 404 when the policies hide it
 * (not a member, or no organization with that id).
 */
export async function readOrg(
  tx: Transaction,
  id: string,
  notFound = noSuchOrgText,
): Promise<MemberOrgRow> {
  const [row] = await tx<MemberOrgRow[]>`
    select ${tx(orgColumns)}, latchkey.caller_org_role(id) as role,
      latchkey.caller_org_permissions(id) as permissions
    from latchkey.organizations where id = ${id}`;
  if (!row) throw new ApiError("not_found", { message: notFound });
  return row;
}

/**
 * 403 unless the caller's organization role holds `permission` (the policies refuse it anyway;
 * this names what is missing), and for a change, `org_suspended` while it is suspended.
 */
export function requireOrgPermission(org: MemberOrgRow, permission: string, action: string) {
  requireOrgRolePermission(org, permission, action);
  requireActive(org);
}

/** 403 unless the caller's organization role holds `permission`, suspended or not. */
export function requireOrgRolePermission(org: MemberOrgRow, permission: string, action: string) {
  if (!org.permissions.includes(permission)) {
    throw new ApiError("forbidden", {
      message: `${action} needs ${permission} in this organization; the role ${
        org.role ?? "(none)"
      } lacks it.`,
    });
  }
}

/** `org_suspended` for a change to a suspended organization. */
export function requireActive(org: OrgRow) {
  if (org.suspended_at !== null) throw new ApiError("org_suspended");
}

/** The 403 when the policies let a change through to no row: a member beyond the caller's reach. */
export function beyondOrgReach(action: string): ApiError {
  return new ApiError("forbidden", {
    message: `${action} needs members:write and a role that holds every permission of the ` +
      "member's role, and of the role given (nobody gives a role above their own).",
  });
}

export interface MemberRow {
  id: string;
  user_id: string;
  role: string;
  created_at: Date;
  updated_at: Date;
  name: string | null;
  email: string | null;
}

export function memberView(row: MemberRow) {
  return {
    userId: row.user_id,
    name: row.name,
    email: row.email,
    role: row.role,
    joinedAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export const membersQuery = z.strictObject({ ...pageQuery });

/**
 * Members with their names and addresses (org_member_profile shows them to whoever may read the
 * organization; a member cannot read other accounts' rows), newest first.
 */
function memberSelect(tx: Transaction, orgId: string) {
  return tx`
    select m.id, m.user_id, m.role, m.created_at, m.updated_at, p.name, p.email
    from latchkey.org_memberships m
    left join lateral latchkey.org_member_profile(m.org_id, m.user_id) p on true
    where m.org_id = ${orgId}`;
}

/** One member, or null. */
export async function readMember(
  tx: Transaction,
  orgId: string,
  userId: string,
): Promise<MemberRow | null> {
  const [row] = await tx<MemberRow[]>`${memberSelect(tx, orgId)} and m.user_id = ${userId}`;
  return row ?? null;
}

/** `{members, limit, nextCursor}` of an organization the caller may read (else 404). */
export function membersPage(
  c: AppContext,
  orgId: string,
  query: z.output<typeof membersQuery>,
  notFound = noSuchOrgText,
) {
  return listPage<MemberRow, ReturnType<typeof memberView>>(
    c,
    query,
    "members",
    async (tx, keyset, cursorAt) => {
      await readOrg(tx, orgId, notFound);
      return await tx<(MemberRow & { cursor_at: string })[]>`
        select *, ${cursorAt} from (${memberSelect(tx, orgId)}) m where true ${keyset}`;
    },
    memberView,
  );
}

/** A path's `:userId`: a malformed one is nobody, as an unknown one. */
export function memberIdParam(c: AppContext): string {
  return pathId(c.req.param("userId"), noSuchMemberText);
}

export const noSuchMemberText = "No such member of this organization.";
