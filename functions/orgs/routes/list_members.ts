import { defineRoute } from "../../_shared/api/routes.ts";
import {
  membersPage,
  membersQuery,
  noSuchOrgText,
  orgIdParam,
} from "../../_shared/orgs/organizations.ts";

export const listMembersRoute = defineRoute({
  method: "get",
  path: "/:id/members",
  summary: "An organization's members (newest first, cursor pages)",
  auth: ["session"],
  permissionNote: "membership of the organization",
  query: membersQuery,
  responses: {
    200: "`{members: [{userId, name, email, role, joinedAt, updatedAt}], limit, nextCursor}`.",
    404: noSuchOrgText,
  },
}, async (c, { query }) => c.json(await membersPage(c, orgIdParam(c), query)));
