import { z } from "zod";
import { defineRoute } from "../../_shared/api/routes.ts";
import { roleNameSchema } from "../../_shared/ground/fields.ts";

/** What the session route answers (200), for the document and the clients generated from it. */
export const sessionAnswer = z.object({
  user: z.object({
    id: z.uuid(),
    name: z.string(),
    email: z.string(),
    role: roleNameSchema,
    tier: z.string(),
    createdAt: z.iso.datetime(),
    emailVerifiedAt: z.iso.datetime().nullable(),
  }),
  session: z.object({
    id: z.uuid(),
    expiresAt: z.iso.datetime(),
    aal: z.enum(["aal1", "aal2"]),
    amr: z.array(z.object({ method: z.string(), timestamp: z.number() })),
  }).nullable(),
  apiKey: z.object({ id: z.uuid(), scopes: z.array(z.string()) }).optional(),
  permissions: z.array(z.string()),
  mfaRequired: z.literal(true).optional(),
});

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
  answer: sessionAnswer,
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
