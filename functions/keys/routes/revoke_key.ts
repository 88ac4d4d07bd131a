import { asCaller } from "../../_shared/http/request.ts";
import { pathId } from "../../_shared/http/ids.ts";
import { ApiError } from "../../_shared/ground/errors.ts";
import { defineRoute } from "../../_shared/api/routes.ts";

// A session revokes any of its owner's keys; an API key only itself, so a leaked key can be
// killed with itself but cannot take its owner's other keys down (RLS says the same).
// Revoking twice is not an error: the answer keeps the first revocation time.
const noSuchKey = "No such API key.";

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
  const principal = c.get("principal");
  const id = pathId(c.req.param("id"), noSuchKey);
  const revokedAt = await asCaller(c, async (tx) => {
    // A plain read first: the revoke policy hides an API key's siblings, and the answer for
    // them should say why (403), while another user's key stays a 404.
    const [key] = await tx<{ revoked_at: Date | null }[]>`
        select revoked_at from latchkey.api_keys
        where id = ${id} and user_id = ${principal.userId}`;
    if (!key) return null;
    if (principal.kind === "api_key" && id !== principal.credentialId) {
      throw new ApiError("interactive_session_required", {
        message: "An API key may revoke only itself; sign in to revoke your other keys.",
      });
    }
    const [revoked] = await tx<{ revoked_at: Date }[]>`
        update latchkey.api_keys set revoked_at = now()
        where id = ${id} and revoked_at is null
        returning revoked_at`;
    if (!revoked) {
      // Revoked already, perhaps a moment ago by a concurrent request: keep the first time.
      const [first] = await tx<{ revoked_at: Date }[]>`
          select revoked_at from latchkey.api_keys where id = ${id}`;
      return first.revoked_at;
    }
    await tx`select latchkey.record_audit_event('api_key.revoked', 'api_key', ${id})`;
    return revoked.revoked_at;
  });
  if (!revokedAt) throw new ApiError("not_found", { message: noSuchKey });
  return c.json({ success: true, id, revokedAt: revokedAt.toISOString() });
});
