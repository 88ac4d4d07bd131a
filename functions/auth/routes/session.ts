import { defineRoute } from "../../_shared/routes.ts";

// With a session: `{user, session}` (the token is not echoed: it was shown once, at sign-in).
// With an API key: `{user, session: null, apiKey: {id, scopes}}`, the key's owner.
export const sessionRoute = defineRoute({
  method: "get",
  path: "/session",
  summary: "Who is calling",
  auth: ["session", "apiKey"],
  responses: { 200: "`{user, session}`, or `{user, session: null, apiKey}` for an API key." },
}, (c) => {
  const { user, session, apiKey } = c.get("principal");
  return c.json({ user, session, ...(apiKey ? { apiKey } : {}) });
});
