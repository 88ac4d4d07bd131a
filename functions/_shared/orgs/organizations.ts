import { z } from "zod";
import type { Transaction } from "../db/database.ts";
import { ApiError } from "../ground/errors.ts";
import { roleNameSchema } from "../ground/fields.ts";
import type { AppContext } from "../http/context.ts";
import { pathId } from "../http/ids.ts";
import { asCaller } from "../http/request.ts";
import { type cursorColumn, type keysetOf, listPage, pageQuery } from "../http/pagination.ts";

/**
 * Organizations as both functions see them: `orgs` for their members, `admin` for the
 * platform's staff. PostgreSQL decides who reads and changes what (the policies of
 * latchkey.organizations and latchkey.org_memberships); these read as the caller, and answer
 * the database's refusals with words.
 */

/**
 * An organization role: owner, admin, member (built in) or a custom one the platform's staff
 * made (GET /admin/org-roles); `requireOrgRole` answers one that is not there.
 */
export const orgRoleSchema = roleNameSchema.meta({
  description: "owner, admin, member, or a custom organization role (GET /admin/org-roles).",
  examples: ["member"],
});

/** 400 naming `role` when no organization role has that name. */
export async function requireOrgRole(tx: Transaction, role: string): Promise<void> {
  const [found] = await tx`select 1 from latchkey.org_roles where name = ${role}`;
  if (!found) {
    throw new ApiError("validation_failed", {
      details: [{ path: "role", message: `No organization role ${role}.` }],
    });
  }
}

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
 * Members with their names and addresses, newest first: `members` selects the membership rows
 * (the policies decide which the caller sees), then one call of org_member_profiles shows their
 * names and addresses to whoever may read the organization (a member cannot read other
 * accounts' rows), for that page only.
 */
function withProfiles(tx: Transaction, orgId: string, members: ReturnType<Transaction>) {
  return tx`
    with page as (${members})
    select page.*, p.name, p.email
    from page
    left join latchkey.org_member_profiles(${orgId}, array(select user_id from page)) p
      on p.user_id = page.user_id
    order by page.created_at desc, page.id desc`;
}

/** One member, or null. */
export async function readMember(
  tx: Transaction,
  orgId: string,
  userId: string,
): Promise<MemberRow | null> {
  const [row] = await tx<MemberRow[]>`${
    withProfiles(
      tx,
      orgId,
      tx`
        select id, user_id, role, created_at, updated_at from latchkey.org_memberships
        where org_id = ${orgId} and user_id = ${userId}`,
    )
  }`;
  return row ?? null;
}

/** A page of members; exported so a test can EXPLAIN exactly what the routes run. */
export function membersPageQuery(
  tx: Transaction,
  orgId: string,
  keyset: ReturnType<typeof keysetOf>,
  cursorAt: ReturnType<typeof cursorColumn>,
) {
  return tx<(MemberRow & { cursor_at: string })[]>`${
    withProfiles(
      tx,
      orgId,
      tx`
        select id, user_id, role, created_at, updated_at, ${cursorAt}
        from latchkey.org_memberships where org_id = ${orgId} ${keyset}`,
    )
  }`;
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
      return await membersPageQuery(tx, orgId, keyset, cursorAt);
    },
    memberView,
  );
}

/** A path's `:userId`: a malformed one is nobody, as an unknown one. */
export function memberIdParam(c: AppContext): string {
  return pathId(c.req.param("userId"), noSuchMemberText);
}

export const noSuchMemberText = "No such member of this organization.";

/** The organization a token names, and what the caller is there (issue 29, item 4). */
export interface TokenOrganization {
  id: string;
  /** The member's organization role; null for an organization's own key. */
  role: string | null;
  /** What that role may do in the organization (org permissions). */
  permissions: readonly string[];
}

/**
 * The organization a session names for its token (`POST /auth/token?org=`), read as the
 * caller: its membership decides, so a non-member learns nothing (404, as for any organization
 * it cannot read), and a suspended organization's members get no token for it, as its keys get
 * no answer but ORG_SUSPENDED.
 */
export async function sessionTokenOrganization(
  c: AppContext,
  orgId: string,
): Promise<TokenOrganization> {
  const [row] = await asCaller(
    c,
    (tx) =>
      tx<{ role: string | null; permissions: string[]; suspended: boolean }[]>`
      select latchkey.caller_org_role(${orgId}) as role,
        latchkey.caller_org_permissions(${orgId}) as permissions,
        coalesce(latchkey.org_is_suspended(${orgId}), false) as suspended`,
  );
  if (!row.role) throw new ApiError("not_found", { message: "No such organization." });
  if (row.suspended) throw new ApiError("org_suspended");
  return { id: orgId, role: row.role, permissions: row.permissions };
}
