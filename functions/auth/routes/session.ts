import { defineRoute } from "../../_shared/api/routes.ts";

// With a session: `{user, session, permissions}` (the token is not echoed: it was shown once,
// at sign-in). With an API key: `{user, session: null, apiKey: {id, scopes}, permissions}`, the
// key's owner. `permissions` are the admin permissions the credential carries right now, so a
// client (the console) can hide what would be refused; the routes still decide.
export const sessionRoute = defineRoute({
  method: "get",
  path: "/session",
  summary: "Who is calling",
  auth: ["session", "apiKey"],
  responses: {
    200: "`{user, session, permissions}`, or `{user, session: null, apiKey, permissions}` for " +
      "an API key; `permissions`: the admin permissions the credential carries now.",
  },
}, (c) => {
  const { user, session, apiKey, permissions } = c.get("principal");
  return c.json({ user, session, ...(apiKey ? { apiKey } : {}), permissions });
});
