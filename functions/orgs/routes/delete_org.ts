import { ApiError } from "../../_shared/ground/errors.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import {
  noSuchOrgText,
  orgIdParam,
  readOrg,
  requireOrgPermission,
} from "../../_shared/orgs/organizations.ts";

// Its memberships, invitations and keys go with it; the audit rows stay.
export const deleteOrgRoute = defineRoute({
  method: "delete",
  path: "/:id",
  summary: "Delete an organization (org:delete: owners)",
  auth: ["session"],
  permissionNote: "org:delete in the organization (owner)",
  responses: {
    200: "`{success: true}`.",
    403: "The caller's organization role lacks org:delete; `org_suspended`: the organization " +
      "is suspended.",
    404: noSuchOrgText,
  },
}, async (c) => {
  const id = orgIdParam(c);
  await asCaller(c, async (tx) => {
    const org = await readOrg(tx, id);
    requireOrgPermission(org, "org:delete", "Deleting the organization");
    const deleted = await tx`delete from latchkey.organizations where id = ${id} returning id`;
    if (deleted.length === 0) throw new ApiError("forbidden");
    await tx`
      select latchkey.record_audit_event('org.deleted', 'organization', ${id},
        jsonb_build_object('name', ${org.name}::text, 'slug', ${org.slug}::text))`;
  });
  return c.json({ success: true });
});
