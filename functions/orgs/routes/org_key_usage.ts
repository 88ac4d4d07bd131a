import { defineRoute } from "../../_shared/api/routes.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { keyUsage, keyUsageQuery } from "../../_shared/keys/key_lifecycle.ts";
import { orgForKeyReader, orgKeyAccess, orgKeyParams } from "../org_keys.ts";

export const orgKeyUsageRoute = defineRoute({
  method: "get",
  path: "/:id/keys/:keyId/usage",
  summary: "Verifications of one of the organization's keys, per hour or day",
  auth: ["session"],
  permissionNote: "keys:read in the organization (owner, admin)",
  query: keyUsageQuery,
  responses: {
    200: "`{keyId, granularity, buckets: [{start, valid, rateLimited, rejected}]}`, every " +
      "bucket of the range (UTC), empty ones as zeros.",
    403: "The caller's organization role lacks keys:read.",
    404: "No such key of this organization (or no such organization of yours).",
  },
}, async (c, { query }) => {
  const { orgId, keyId } = orgKeyParams(c);
  return c.json(
    await asCaller(c, async (tx) => {
      await orgForKeyReader(tx, orgId);
      return await keyUsage(tx, keyId, query, orgKeyAccess(orgId));
    }),
  );
});
