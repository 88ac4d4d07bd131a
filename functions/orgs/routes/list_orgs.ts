import { z } from "zod";
import type { Transaction } from "../../_shared/db/database.ts";
import {
  type cursorColumn,
  type keysetOf,
  listPage,
  pageQuery,
} from "../../_shared/http/pagination.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { type MemberOrgRow, memberOrgView } from "../../_shared/orgs/organizations.ts";

type MyOrgRow = MemberOrgRow & { org_id: string; org_created_at: Date };

export const listOrgsQuery = z.strictObject({ ...pageQuery });

/**
 * The page's query; exported so a test can EXPLAIN exactly what the route runs. Paged on the
 * caller's memberships (newest first): `id` and `created_at` are the membership's in the inner
 * query, the organization's own id is `org_id` until the view. Each row is the caller's own
 * membership, so what they may do there is its role's permissions, read from the catalogue
 * (caller_org_permissions would ask again for every row).
 */
export function myOrgsPageQuery(
  tx: Transaction,
  userId: string | null,
  keyset: ReturnType<typeof keysetOf>,
  cursorAt: ReturnType<typeof cursorColumn>,
) {
  return tx<(MyOrgRow & { cursor_at: string })[]>`
    select *, ${cursorAt} from (
      select m.id, m.created_at, m.role, o.id as org_id, o.name, o.slug, o.created_by,
        o.created_at as org_created_at, o.updated_at, o.suspended_at, o.suspension_reason,
        array(
          select rp.permission from latchkey.org_role_permissions rp
          where rp.role = m.role order by rp.permission
        ) as permissions
      from latchkey.org_memberships m
      join latchkey.organizations o on o.id = m.org_id
      where m.user_id = ${userId}
    ) mine where true ${keyset}`;
}

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
      (tx, keyset, cursorAt) => myOrgsPageQuery(tx, userId, keyset, cursorAt),
      (row) => memberOrgView({ ...row, id: row.org_id, created_at: row.org_created_at }),
    ),
  );
});
