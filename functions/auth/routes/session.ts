import { Hono } from "hono";
import { requireSession } from "../../_shared/authenticate.ts";
import type { AppEnv } from "../../_shared/http.ts";

// The token is not echoed back: it was shown once, when the session was created.
export const sessionRoute = new Hono<AppEnv>().get("/session", requireSession, (c) => {
  const principal = c.get("principal");
  return c.json({ user: principal.user, session: principal.session });
});
