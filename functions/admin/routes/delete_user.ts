import { asCaller } from "../../_shared/http.ts";
import { noSuchUser, noSuchUserText, targetUserId } from "../target_user.ts";
import { defineRoute } from "../../_shared/routes.ts";
import { adminCredentials } from "../admin_credentials.ts";

// The user's sessions and keys go with them (foreign keys cascade); audit rows stay.
export const deleteUserRoute = defineRoute({
  method: "delete",
  path: "/users/:id",
  summary: "Delete a user, their keys and sessions",
  auth: adminCredentials,
  permission: "users:write",
  responses: {
    200: "`{success: true}`.",
    404: noSuchUserText,
    409: "The last active admin cannot be deleted.",
  },
}, async (c) => {
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
});
