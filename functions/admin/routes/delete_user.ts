import { Hono } from "hono";
import { requirePermission } from "../../_shared/authenticate.ts";
import { type AppEnv, asCaller } from "../../_shared/http.ts";
import { noSuchUser, targetUserId } from "../target_user.ts";

// The user's sessions and keys go with them (foreign keys cascade); audit rows stay.
export const deleteUserRoute = new Hono<AppEnv>().delete(
  "/users/:id",
  requirePermission("users:write"),
  async (c) => {
    const id = targetUserId(c);
    const deleted = await asCaller(c, async (tx) => {
      const [row] = await tx<{ email: string; role: string; keys: number }[]>`
        with removed as (delete from latchkey.users where id = ${id} returning email, role)
        select email, role from removed`;
      if (!row) return false;
      await tx`
        select latchkey.record_audit_event('admin.user_deleted', 'user', ${id},
          jsonb_build_object('before', jsonb_build_object('email', ${row.email}::text,
            'role', ${row.role}::text)))`;
      return true;
    });
    if (!deleted) throw noSuchUser();
    return c.json({ success: true });
  },
);
