import { Hono } from "hono";
import { requirePermission } from "../../_shared/authenticate.ts";
import { type AppEnv, asCaller } from "../../_shared/http.ts";
import { type SessionListRow, sessionView } from "../../_shared/sessions.ts";
import { noSuchUser, targetUserId } from "../target_user.ts";

export const listUserSessionsRoute = new Hono<AppEnv>().get(
  "/users/:id/sessions",
  requirePermission("users:read"),
  async (c) => {
    const id = targetUserId(c);
    const sessions = await asCaller(c, async (tx) => {
      const [user] = await tx`select id from latchkey.users where id = ${id}`;
      if (!user) return null;
      return await tx<SessionListRow[]>`
        select id, created_at, expires_at, ip_address, user_agent from latchkey.sessions
        where user_id = ${id} and revoked_at is null and expires_at > now()
        order by created_at desc, id desc`;
    });
    if (!sessions) throw noSuchUser();
    return c.json({
      sessions: sessions.map(sessionView),
    });
  },
);

export const revokeUserSessionsRoute = new Hono<AppEnv>().delete(
  "/users/:id/sessions",
  requirePermission("sessions:revoke"),
  async (c) => {
    const id = targetUserId(c);
    const revoked = await asCaller(c, async (tx) => {
      const [user] = await tx`select id from latchkey.users where id = ${id}`;
      if (!user) return null;
      const rows = await tx`
        update latchkey.sessions set revoked_at = now()
        where user_id = ${id} and revoked_at is null and expires_at > now()
        returning id`;
      await tx`
        select latchkey.record_audit_event('admin.sessions_revoked', 'user', ${id},
          jsonb_build_object('revokedSessions', ${rows.length}::int))`;
      return rows.length;
    });
    if (revoked === null) throw noSuchUser();
    return c.json({ success: true, revoked });
  },
);
