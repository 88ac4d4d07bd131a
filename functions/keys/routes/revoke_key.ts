import { revokeKey } from "../../_shared/keys/key_lifecycle.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { ownKeyAccess, ownKeyId } from "../own_key.ts";

// A session revokes any of its owner's keys; an API key only itself, so a leaked key can be
// killed with itself but cannot take its owner's other keys down (RLS decides; the answer then
// says why, 403, while another user's key stays a 404). Revoking twice is not an error: the
// answer keeps the first revocation time.
export const revokeKeyRoute = defineRoute({
  method: "delete",
  path: "/:id",
  summary: "Revoke one of the caller's keys",
  auth: ["session", "apiKey"],
  responses: {
    200: "`{success: true, id, revokedAt}`.",
    403: "`interactive_session_required`: an API key may revoke only itself.",
    404: "No such key of yours.",
  },
}, async (c) => {
  const [id, access] = [ownKeyId(c), ownKeyAccess(c)];
  const revokedAt = await asCaller(c, (tx) => revokeKey(tx, id, access, "api_key.revoked"));
  return c.json({ success: true, id, revokedAt: revokedAt.toISOString() });
});
