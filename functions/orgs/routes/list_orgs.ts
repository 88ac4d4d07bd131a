import { z } from "zod";
import { listPage, pageQuery } from "../../_shared/http/pagination.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { type MemberOrgRow, memberOrgView } from "../../_shared/orgs/organizations.ts";

type MyOrgRow = MemberOrgRow & { org_id: string; org_created_at: Date };

export const listOrgsQuery = z.strictObject({ ...pageQuery });

// Paged on the caller's memberships (newest first): `id` and `created_at` are the membership's
// in the inner query, the organization's own id is `org_id` until the view.
export const listOrgsRoute = defineRoute({
  method: "get",
  path: "/",
  summary: "The caller's organizations with their role (newest membership first, cursor pages)",
  auth: ["session"],
  query: listOrgsQuery,
  responses: {
    200: "`{orgs, limit, nextCursor}`; each with the caller's `role` and `permissions`.",
  },
}, async (c, { query }) => {
  const userId = c.get("principal").userId;
  return c.json(
    await listPage<MyOrgRow, ReturnType<typeof memberOrgView>>(
      c,
      query,
      "orgs",
      (tx, keyset, cursorAt) =>
        tx<(MyOrgRow & { cursor_at: string })[]>`
          select *, ${cursorAt} from (
            select m.id, m.created_at, m.role, o.id as org_id, o.name, o.slug, o.created_by,
              o.created_at as org_created_at, o.updated_at, o.suspended_at, o.suspension_reason,
              latchkey.caller_org_permissions(o.id) as permissions
            from latchkey.org_memberships m
            join latchkey.organizations o on o.id = m.org_id
            where m.user_id = ${userId}
          ) mine where true ${keyset}`,
      (row) => memberOrgView({ ...row, id: row.org_id, created_at: row.org_created_at }),
    ),
  );
});
