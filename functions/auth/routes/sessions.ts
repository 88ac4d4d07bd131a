import { asCaller } from "../../_shared/http/request.ts";
import { type SessionListRow, sessionView } from "../../_shared/identity/sessions.ts";
import { defineRoute } from "../../_shared/api/routes.ts";

export const sessionsRoute = defineRoute({
  method: "get",
  path: "/sessions",
  summary: "The caller's active sessions",
  auth: ["session"],
  ownIdentityOnly: true,
  responses: { 200: "`{sessions}` (no tokens)." },
}, async (c) => {
  const principal = c.get("principal");
  const rows = await asCaller(c, (tx) =>
    tx<SessionListRow[]>`
      select id, created_at, expires_at, ip_address, user_agent, aal, amr
      from latchkey.sessions
      where user_id = ${principal.userId} and purpose = 'session' and revoked_at is null
          and expires_at > now()
      order by created_at desc, id`);
  return c.json({
    sessions: rows.map((row) => ({
      ...sessionView(row),
      current: row.id === principal.credentialId,
    })),
  });
});
