import { Hono } from "hono";
import { requireCredential } from "../../_shared/authenticate.ts";
import { withCaller } from "../../_shared/database.ts";
import { type AppEnv, requestInfo } from "../../_shared/http.ts";
import { ownKeyId } from "../own_key_id.ts";

// Any of the owner's credentials may revoke, so a leaked key can be killed with itself.
// Revoking twice is not an error: the answer keeps the first revocation time.
export const revokeKeyRoute = new Hono<AppEnv>().delete("/:id", requireCredential, async (c) => {
  const principal = c.get("principal");
  const id = ownKeyId(c.req.param("id"));
  const revokedAt = await withCaller(
    c.get("runtime").sql,
    principal,
    requestInfo(c),
    async (tx) => {
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
    },
  );
  if (!revokedAt) throw ownKeyId.notFound();
  return c.json({ success: true, id, revokedAt: revokedAt.toISOString() });
});
