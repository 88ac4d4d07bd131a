import { asCaller } from "../../_shared/http/request.ts";
import { beyondReachText, noSuchUserText, targetUserId, userWithinReach } from "../target_user.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { adminCredentials } from "../admin_credentials.ts";

// The user's sessions and keys go with them (foreign keys cascade); audit rows stay.
export const deleteUserRoute = defineRoute({
  method: "delete",
  path: "/users/:id",
  summary: "Delete a user, their keys and sessions",
  auth: adminCredentials,
  permission: "users:write",
  stepUp: true,
  responses: {
    200: "`{success: true}`.",
    403: beyondReachText,
    404: noSuchUserText,
    409: "The last active admin cannot be deleted.",
  },
}, async (c) => {
  const id = targetUserId(c);
  await asCaller(c, async (tx) => {
    const row = await userWithinReach(c, tx, id, "Deleting an account", { lock: true });
    await tx`delete from latchkey.users where id = ${id}`;
    await tx`
        select latchkey.record_audit_event('admin.user_deleted', 'user', ${id},
          jsonb_build_object('before', jsonb_build_object('email', ${row.email}::text,
            'role', ${row.role}::text)))`;
  });
  return c.json({ success: true });
});
