import { asCaller } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { orgKeyCeilingPermissions, orgKeyScopes } from "../../_shared/keys/scopes.ts";
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
    200: "`{org}` with the caller's `role` and `permissions`, and for a member with keys:write " +
      "`keyScopes`: every scope its keys may hold now (else null).",
    404: `${noSuchOrgText} (Another organization answers the same.)`,
  },
}, async (c) => {
  const id = orgIdParam(c);
  const { config } = c.get("runtime");
  const org = await asCaller(c, async (tx) => {
    const row = await readOrg(tx, id);
    // What a key-creating form offers; the default ceiling (null) is only known here.
    const keyScopes = row.permissions.includes("keys:write")
      ? orgKeyScopes(
        config,
        row.key_permissions,
        await orgKeyCeilingPermissions(tx, row.key_permissions),
      )
      : null;
    return { ...memberOrgView(row), keyScopes };
  });
  return c.json({ org });
});
