import { asCaller } from "../../_shared/http/request.ts";
import { clearSessionCookie } from "../session_grant.ts";
import { defineRoute } from "../../_shared/api/routes.ts";

// The body is never read: no body, `{}` and an empty JSON body all sign out the same way.
export const signOutRoute = defineRoute({
  method: "post",
  path: "/sign-out",
  summary: "End this session (no body needed)",
  auth: ["session"],
  beforeRequiredFactor: true,
  ownIdentityOnly: true,
  responses: { 200: "`{success: true}`." },
}, async (c) => {
  const principal = c.get("principal");
  const sessionId = principal.credentialId;
  await asCaller(c, async (tx) => {
    await tx`
      update latchkey.sessions set revoked_at = now()
      where id = ${sessionId} and revoked_at is null`;
    await tx`select latchkey.record_audit_event('auth.sign_out', 'session', ${sessionId})`;
  });
  clearSessionCookie(c);
  return c.json({ success: true });
});
