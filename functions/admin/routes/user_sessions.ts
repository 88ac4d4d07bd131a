import { asCaller } from "../../_shared/http/request.ts";
import { type SessionListRow, sessionView } from "../../_shared/identity/sessions.ts";
import {
  beyondReachText,
  noSuchUserText,
  requireUserExists,
  targetUserId,
  userWithinReach,
} from "../target_user.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { adminCredentials } from "../admin_credentials.ts";

export const listUserSessionsRoute = defineRoute({
  method: "get",
  path: "/users/:id/sessions",
  summary: "A user's active sessions",
  auth: adminCredentials,
  permission: "users:read",
  responses: { 200: "`{sessions}`.", 404: noSuchUserText },
}, async (c) => {
  const id = targetUserId(c);
  const sessions = await asCaller(c, async (tx) => {
    await requireUserExists(tx, id);
    return await tx<SessionListRow[]>`
        select id, created_at, expires_at, ip_address, user_agent, aal, amr from latchkey.sessions
        where user_id = ${id} and purpose = 'session' and revoked_at is null
          and expires_at > now()
        order by created_at desc, id desc`;
  });
  return c.json({ sessions: sessions.map(sessionView) });
});

export const revokeUserSessionsRoute = defineRoute({
  method: "delete",
  path: "/users/:id/sessions",
  summary: "Revoke all of a user's sessions",
  auth: adminCredentials,
  permission: "sessions:revoke",
  responses: {
    200: "`{success: true, revoked}`.",
    403: beyondReachText,
    404: noSuchUserText,
  },
}, async (c) => {
  const id = targetUserId(c);
  const revoked = await asCaller(c, async (tx) => {
    await userWithinReach(c, tx, id, "Revoking sessions");
    const rows = await tx`
        update latchkey.sessions set revoked_at = now()
        where user_id = ${id} and purpose = 'session' and revoked_at is null
          and expires_at > now()
        returning id`;
    await tx`
        select latchkey.record_audit_event('admin.sessions_revoked', 'user', ${id},
          jsonb_build_object('revokedSessions', ${rows.length}::int))`;
    return rows.length;
  });
  return c.json({ success: true, revoked });
});
