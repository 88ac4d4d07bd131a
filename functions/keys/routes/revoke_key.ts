import { asCaller } from "../../_shared/http.ts";
import { pathId } from "../../_shared/ids.ts";
import { ApiError } from "../../_shared/errors.ts";
import { defineRoute } from "../../_shared/routes.ts";

// Any of the owner's credentials may revoke, so a leaked key can be killed with itself.
// Revoking twice is not an error: the answer keeps the first revocation time.
const noSuchKey = "No such API key.";

export const revokeKeyRoute = defineRoute({
  method: "delete",
  path: "/:id",
  summary: "Revoke one of the caller's keys",
  auth: ["session", "apiKey"],
  responses: { 200: "`{success: true, id, revokedAt}`.", 404: "No such key of yours." },
}, async (c) => {
  const principal = c.get("principal");
  const id = pathId(c.req.param("id"), noSuchKey);
  const revokedAt = await asCaller(c, async (tx) => {
    const [key] = await tx<{ revoked_at: Date | null }[]>`
        select revoked_at from latchkey.api_keys
        where id = ${id} and user_id = ${principal.userId}
        for update`;
    if (!key) return null;
    if (key.revoked_at) return key.revoked_at;
    const [revoked] = await tx<{ revoked_at: Date }[]>`
        update latchkey.api_keys set revoked_at = now() where id = ${id} returning revoked_at`;
    await tx`select latchkey.record_audit_event('api_key.revoked', 'api_key', ${id})`;
    return revoked.revoked_at;
  });
  if (!revokedAt) throw new ApiError("not_found", { message: noSuchKey });
  return c.json({ success: true, id, revokedAt: revokedAt.toISOString() });
});
