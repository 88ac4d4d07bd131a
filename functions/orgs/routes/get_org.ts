import { asCaller } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import {
  memberOrgView,
  noSuchOrgText,
  orgIdParam,
  readOrg,
} from "../../_shared/orgs/organizations.ts";

export const getOrgRoute = defineRoute({
  method: "get",
  path: "/:id",
  summary: "One of the caller's organizations, with their role",
  auth: ["session"],
  responses: {
    200: "`{org}` with the caller's `role` and `permissions`.",
    404: `${noSuchOrgText} (Another organization answers the same.)`,
  },
}, async (c) => {
  const id = orgIdParam(c);
  const org = await asCaller(c, (tx) => readOrg(tx, id));
  return c.json({ org: memberOrgView(org) });
});
