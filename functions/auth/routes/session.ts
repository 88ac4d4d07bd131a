import { defineRoute } from "../../_shared/api/routes.ts";

// With a session: `{user, session, permissions}` (the token is not echoed: it was shown once,
// at sign-in), `session.aal` and `session.amr` saying how its sign-in was proven. With an API key: `{user, session: null, apiKey: {id, scopes}, permissions}`, the
// key's owner. `permissions` are the permissions (Latchkey's and the team's) the credential
// carries right now, read from its role's rows on this request, so a
// client (the console) can hide what would be refused; the routes still decide.
export const sessionRoute = defineRoute({
  method: "get",
  path: "/session",
  summary: "Who is calling",
  auth: ["session", "apiKey"],
  beforeRequiredFactor: true,
  responses: {
    200: "`{user, session: {id, expiresAt, aal, amr}, permissions}`, or `{user, session: " +
      "null, apiKey, permissions}` for an API key; `aal`: `aal1` (a password) or `aal2` (and a " +
      "second factor); `amr`: the methods, `[{method, timestamp}]` (`password`, `totp`, " +
      "`recovery_code`; epoch seconds); `permissions`: the permissions the credential carries " +
      "now, Latchkey's and the team's, as its role holds them on this request (none while `mfaRequired`: the role needs a second factor " +
      "(LATCHKEY_MFA_REQUIRED_ROLES) and this session has not verified one).",
  },
}, (c) => {
  const { user, session, apiKey, permissions, awaitsSecondFactor } = c.get("principal");
  // Awaiting its role's second factor, a session carries no permission (PostgreSQL grants it
  // none); `mfaRequired` tells a client to lead to enrolment or verification first.
  return c.json({
    user,
    session,
    ...(apiKey ? { apiKey } : {}),
    permissions: awaitsSecondFactor ? [] : permissions,
    ...(awaitsSecondFactor ? { mfaRequired: true } : {}),
  });
});
