import { keyUsage, keyUsageQuery } from "../../_shared/keys/key_lifecycle.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { ownKeyAccess, ownKeyId } from "../own_key.ts";

export const keyUsageRoute = defineRoute({
  method: "get",
  path: "/:id/usage",
  summary: "Verifications of one of the caller's keys, per hour or day",
  auth: ["session", "apiKey"],
  query: keyUsageQuery,
  responses: {
    200: "`{keyId, granularity, buckets: [{start, valid, rateLimited, rejected}]}`, every " +
      "bucket of the range (UTC), empty ones as zeros.",
    404: "No such key of yours.",
  },
}, async (c, { query }) => {
  const [id, access] = [ownKeyId(c), ownKeyAccess(c)];
  return c.json(await asCaller(c, (tx) => keyUsage(tx, id, query, access)));
});
