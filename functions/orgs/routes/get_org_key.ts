import { defineRoute } from "../../_shared/api/routes.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { readKey } from "../../_shared/keys/key_lifecycle.ts";
import { orgForKeyReader, orgKeyAccess, orgKeyParams } from "../org_keys.ts";

export const getOrgKeyRoute = defineRoute({
  method: "get",
  path: "/:id/keys/:keyId",
  summary: "One of the organization's keys",
  auth: ["session"],
  permissionNote: "keys:read in the organization (owner, admin)",
  responses: {
    200: "Key metadata.",
    403: "The caller's organization role lacks keys:read.",
    404: "No such key of this organization (or no such organization of yours).",
  },
}, async (c) => {
  const { orgId, keyId } = orgKeyParams(c);
  return c.json(
    await asCaller(c, async (tx) => {
      await orgForKeyReader(tx, orgId);
      return await readKey(tx, keyId, orgKeyAccess(orgId));
    }),
  );
});
