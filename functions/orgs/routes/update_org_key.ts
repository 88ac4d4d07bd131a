import { defineRoute } from "../../_shared/api/routes.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { ownerKeyPatch, updateKey } from "../../_shared/keys/key_lifecycle.ts";
import { orgForKeyWriter, orgKeyAccess, orgKeyParams } from "../org_keys.ts";

export const updateOrgKeyRoute = defineRoute({
  method: "patch",
  path: "/:id/keys/:keyId",
  summary: "Rename, disable or enable one of the organization's keys, set its metadata, its " +
    "cache or its network limits",
  auth: ["session"],
  permissionNote: "keys:write in the organization (owner, admin)",
  body: ownerKeyPatch,
  responses: {
    200: "The key's metadata after the change.",
    400: "Invalid body; `cacheSeconds` for a key with a rate limit or credits.",
    403: "The caller's organization role lacks keys:write; `org_suspended`; `forbidden`: an " +
      "admin disabled the key or set its metadata, and only an admin can change that.",
    404: "No such key of this organization (or no such organization of yours).",
  },
}, async (c, { body }) => {
  const { orgId, keyId } = orgKeyParams(c);
  const updated = await asCaller(c, async (tx) => {
    await orgForKeyWriter(tx, orgId, "Changing a key");
    return await updateKey(tx, keyId, body, orgKeyAccess(orgId), "org.key_updated");
  });
  return c.json({ success: true, ...updated });
});
