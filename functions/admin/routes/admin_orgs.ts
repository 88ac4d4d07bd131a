import { z } from "zod";
import { ApiError } from "../../_shared/ground/errors.ts";
import type { Transaction } from "../../_shared/db/database.ts";
import {
  type cursorColumn,
  type CursorPosition,
  decodeCursor,
  type keysetOf,
  listPage,
  pageQuery,
} from "../../_shared/http/pagination.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import {
  adminOrgView,
  membersPage,
  membersQuery,
  orgColumns,
  orgIdParam,
  type OrgRow,
} from "../../_shared/orgs/organizations.ts";
import { adminCredentials } from "../admin_credentials.ts";
import { requireHeld } from "../../_shared/identity/reach.ts";
import { checkedCeiling } from "../../_shared/keys/scopes.ts";

const noSuchOrg = "No such organization.";

export const listOrgsQuery = z.strictObject({
  q: z.string().trim().min(1).max(200).optional().meta({
    description: "Part of the name or slug, case-insensitively, as plain text.",
  }),
  suspended: z.enum(["true", "false"]).optional().meta({
    description: "true: only suspended organizations; false: only active ones.",
  }),
  ...pageQuery,
});

/**
 * The page's query; exported so a test can EXPLAIN exactly what the route runs. `q` is a
 * substring, which cannot drive an index under RLS (no such operator is leakproof): the page's
 * ids come from `latchkey.matching_org_ids`, which searches with the trigram index for a caller
 * the policy lets read every organization, and the rows are then read through the policy.
 */
export function orgsPageQuery(
  tx: Transaction,
  query: z.output<typeof listOrgsQuery>,
  cursor: CursorPosition | null,
  keyset: ReturnType<typeof keysetOf>,
  cursorAt: ReturnType<typeof cursorColumn>,
) {
  const suspended = query.suspended === undefined ? null : query.suspended === "true";
  return tx<(OrgRow & { cursor_at: string })[]>`
    select ${tx(orgColumns)}, ${cursorAt} from latchkey.organizations
    where true
      ${
    suspended === true
      ? tx`and suspended_at is not null`
      : suspended === false
      ? tx`and suspended_at is null`
      : tx``
  }
      ${
    query.q
      ? tx`and id = any(array(select latchkey.matching_org_ids(${query.q}, ${suspended}::boolean,
          ${cursor?.createdAt ?? null}::text::timestamptz, ${cursor?.id ?? null}::uuid,
          ${query.limit + 1})))`
      : tx``
  }
      ${keyset}`;
}

export const listOrgsRoute = defineRoute({
  method: "get",
  path: "/orgs",
  summary: "List organizations (newest first, cursor-paginated)",
  auth: adminCredentials,
  permission: "orgs:read",
  query: listOrgsQuery,
  responses: { 200: "`{orgs, limit, nextCursor}`." },
}, async (c, { query }) => {
  const cursor = decodeCursor(query.cursor);
  return c.json(
    await listPage<OrgRow, ReturnType<typeof adminOrgView>>(
      c,
      query,
      "orgs",
      (tx, keyset, cursorAt) => orgsPageQuery(tx, query, cursor, keyset, cursorAt),
      adminOrgView,
    ),
  );
});

async function adminOrg(tx: Transaction, id: string) {
  const [row] = await tx<(OrgRow & { members: number })[]>`
    select ${tx(orgColumns)},
      (select count(*)::int from latchkey.org_memberships m where m.org_id = o.id) as members
    from latchkey.organizations o where id = ${id}`;
  if (!row) throw new ApiError("not_found", { message: noSuchOrg });
  return row;
}

export const getOrgRoute = defineRoute({
  method: "get",
  path: "/orgs/:id",
  summary: "One organization, with its member count",
  auth: adminCredentials,
  permission: "orgs:read",
  responses: { 200: "`{org}` with `members`, the count.", 404: noSuchOrg },
}, async (c) => {
  const id = orgIdParam(c, noSuchOrg);
  const row = await asCaller(c, (tx) => adminOrg(tx, id));
  return c.json({ org: { ...adminOrgView(row), members: row.members } });
});

export const orgMembersRoute = defineRoute(
  {
    method: "get",
    path: "/orgs/:id/members",
    summary: "An organization's members (newest first, cursor-paginated)",
    auth: adminCredentials,
    permission: "orgs:read",
    query: membersQuery,
    responses: { 200: "`{members, limit, nextCursor}`.", 404: noSuchOrg },
  },
  async (c, { query }) => c.json(await membersPage(c, orgIdParam(c, noSuchOrg), query, noSuchOrg)),
);

export const updateOrgBody = z.strictObject({
  suspended: z.boolean().optional().meta({
    description: "true suspends (its members change nothing, its keys answer ORG_SUSPENDED), " +
      "false lifts it.",
  }),
  suspensionReason: z.string().trim().min(1).max(500).optional(),
  keyPermissions: z.array(z.string().max(64)).max(64).nullable().optional().meta({
    description: "What the organization's keys may hold, application scopes and the team's " +
      "permissions (their scopes are checked against it when made and intersected with it on " +
      "every use); null: the default, the application scopes and the team's permissions the " +
      "platform role user holds. Only permissions the caller holds; never Latchkey's own.",
    examples: [["compile", "deploy"]],
  }),
}).refine((body) => body.suspended !== undefined || body.keyPermissions !== undefined, {
  message: "Give suspended or keyPermissions.",
}).refine((body) => body.suspensionReason === undefined || body.suspended, {
  path: ["suspensionReason"],
  message: "A suspension reason goes with suspended: true.",
});

// Audited as a ban is: the state before and after. A suspended organization's members still
// read it, and change nothing in it (the policies refuse their writes); its keys are refused.
// What its keys may hold is the staff's to set, within their own power (the reach rule, which
// latchkey.set_org_key_permissions enforces too).
export const updateOrgRoute = defineRoute({
  method: "patch",
  path: "/orgs/:id",
  summary: "Suspend or unsuspend an organization, or set what its keys may hold",
  auth: adminCredentials,
  permission: "orgs:write",
  permissionNote: "; `keyPermissions` only of the caller's own permissions",
  body: updateOrgBody,
  responses: {
    200: "`{org}`.",
    400: "Invalid body, or `keyPermissions` naming something that is neither an application " +
      "scope (LATCHKEY_SCOPES) nor one of the team's permissions (Latchkey's own included: " +
      "an organization's key never holds them).",
    403: "`keyPermissions` holds a permission the caller lacks (the message names it).",
    404: noSuchOrg,
  },
}, async (c, { body }) => {
  const id = orgIdParam(c, noSuchOrg);
  const principal = c.get("principal");
  const { config } = c.get("runtime");
  const after = await asCaller(c, async (tx) => {
    let keyPermissions = body.keyPermissions;
    if (keyPermissions) {
      const ceiling = await checkedCeiling(tx, config, keyPermissions);
      requireHeld(principal, ceiling.permissions);
      keyPermissions = ceiling.names;
    }
    const before = await adminOrg(tx, id);
    const state = (row: OrgRow) => ({
      suspended: row.suspended_at !== null,
      suspensionReason: row.suspension_reason,
      ...(keyPermissions !== undefined ? { keyPermissions: row.key_permissions } : {}),
    });
    if (body.suspended !== undefined) {
      const changed = await tx`
        update latchkey.organizations set
          suspended_at = ${body.suspended ? before.suspended_at ?? new Date() : null},
          suspension_reason = ${
        body.suspended ? body.suspensionReason ?? before.suspension_reason : null
      },
          updated_at = now()
        where id = ${id} returning id`;
      if (changed.length === 0) throw new ApiError("forbidden");
    }
    if (keyPermissions !== undefined) {
      await tx`select latchkey.set_org_key_permissions(${id}, ${keyPermissions}::text[])`;
    }
    const changed = await adminOrg(tx, id);
    await tx`
      select latchkey.record_audit_event('admin.org_updated', 'organization', ${id},
        jsonb_build_object('before', ${tx.json(state(before))}::jsonb,
          'after', ${tx.json(state(changed))}::jsonb))`;
    return changed;
  });
  return c.json({ org: { ...adminOrgView(after), members: after.members } });
});
