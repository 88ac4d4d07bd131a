import { Hono } from "hono";
import { requireCredential } from "../../_shared/authenticate.ts";
import type { AppEnv } from "../../_shared/http.ts";

// With a session: `{user, session}` (the token is not echoed: it was shown once, at sign-in).
// With an API key: `{user, session: null, apiKey: {id, scopes}}`, the key's owner.
export const sessionRoute = new Hono<AppEnv>().get("/session", requireCredential, (c) => {
  const { user, session, apiKey } = c.get("principal");
  return c.json({ user, session, ...(apiKey ? { apiKey } : {}) });
});
