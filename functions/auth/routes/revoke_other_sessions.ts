import { asCaller } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";

export const revokeOtherSessionsRoute = defineRoute({
  method: "post",
  path: "/sessions/revoke-others",
  summary: "Revoke every other session",
  auth: ["session"],
  ownIdentityOnly: true,
  responses: { 200: "`{success: true, revoked}`." },
}, async (c) => {
  const principal = c.get("principal");
  const revoked = await asCaller(c, async (tx) => {
    const rows = await tx`
          update latchkey.sessions set revoked_at = now()
          where user_id = ${principal.userId} and id <> ${principal.credentialId}
            and revoked_at is null and expires_at > now()
          returning id`;
    await tx`
          select latchkey.record_audit_event(
            'auth.other_sessions_revoked', 'user', ${principal.userId},
            jsonb_build_object('revokedSessions', ${rows.length}::int))`;
    return rows.length;
  });
  return c.json({ success: true, revoked });
});
