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
  suspended: z.boolean(),
  suspensionReason: z.string().trim().min(1).max(500).optional(),
}).refine((body) => body.suspensionReason === undefined || body.suspended, {
  path: ["suspensionReason"],
  message: "A suspension reason goes with suspended: true.",
});

// Audited as a ban is: the state before and after. A suspended organization's members still
// read it, and change nothing in it (the policies refuse their writes).
export const updateOrgRoute = defineRoute({
  method: "patch",
  path: "/orgs/:id",
  summary: "Suspend or unsuspend an organization",
  auth: adminCredentials,
  permission: "orgs:write",
  body: updateOrgBody,
  responses: { 200: "`{org}`.", 404: noSuchOrg },
}, async (c, { body }) => {
  const id = orgIdParam(c, noSuchOrg);
  const after = await asCaller(c, async (tx) => {
    const before = await adminOrg(tx, id);
    const state = (row: OrgRow) => ({
      suspended: row.suspended_at !== null,
      suspensionReason: row.suspension_reason,
    });
    const [changed] = await tx<OrgRow[]>`
      update latchkey.organizations set
        suspended_at = ${body.suspended ? before.suspended_at ?? new Date() : null},
        suspension_reason = ${
      body.suspended ? body.suspensionReason ?? before.suspension_reason : null
    },
        updated_at = now()
      where id = ${id} returning ${tx(orgColumns)}`;
    if (!changed) throw new ApiError("forbidden");
    await tx`
      select latchkey.record_audit_event('admin.org_updated', 'organization', ${id},
        jsonb_build_object('before', ${tx.json(state(before))}::jsonb,
          'after', ${tx.json(state(changed))}::jsonb))`;
    return { ...changed, members: before.members };
  });
  return c.json({ org: { ...adminOrgView(after), members: after.members } });
});
