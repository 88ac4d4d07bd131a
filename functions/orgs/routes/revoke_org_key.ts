import { defineRoute } from "../../_shared/api/routes.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { revokeKey } from "../../_shared/keys/key_lifecycle.ts";
import { orgForKeyWriter, orgKeyAccess, orgKeyParams } from "../org_keys.ts";

// A suspended organization's keys can still be revoked: that only takes power away.
export const revokeOrgKeyRoute = defineRoute({
  method: "delete",
  path: "/:id/keys/:keyId",
  summary: "Revoke one of the organization's keys",
  auth: ["session"],
  permissionNote: "keys:write in the organization (owner, admin)",
  responses: {
    200: "`{success: true, id, revokedAt}` (revoking twice keeps the first time).",
    403: "The caller's organization role lacks keys:write.",
    404: "No such key of this organization (or no such organization of yours).",
  },
}, async (c) => {
  const { orgId, keyId } = orgKeyParams(c);
  const revokedAt = await asCaller(c, async (tx) => {
    await orgForKeyWriter(tx, orgId, "Revoking a key", { evenSuspended: true });
    return await revokeKey(tx, keyId, orgKeyAccess(orgId), "org.key_revoked");
  });
  return c.json({ success: true, id: keyId, revokedAt: revokedAt.toISOString() });
});
