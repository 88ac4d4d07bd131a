import type { MiddlewareHandler } from "hono";
import {
  type ConnectionInfo,
  latchkeyCheck,
  type LatchkeyContext,
  type WithLatchkeyOptions,
} from "./mod.ts";

/** The variables the middleware sets: `c.get("latchkey")` in the routes behind it. */
export interface LatchkeyVariables {
  latchkey: LatchkeyContext;
}

/**
 * `withLatchkey` as Hono middleware: `app.use("/notes/*", latchkey({ url, supabaseUrl, scopes }))`
 * and then `c.get("latchkey").supabase` in the route. A refused request gets Latchkey's refusal
 * and reaches no route; an accepted one carries the key's rate-limit headers.
 */
export function latchkey(
  options: WithLatchkeyOptions,
): MiddlewareHandler<{ Variables: LatchkeyVariables }> {
  const check = latchkeyCheck(options);
  return async (c, next) => {
    // On Deno, Hono's `c.env` is what Deno's serve handed it: the connection's address.
    const outcome = await check(c.req.raw, c.env as ConnectionInfo | undefined);
    if (!outcome.ok) return outcome.response;
    c.set("latchkey", outcome.context);
    // Before the route: set after it, Hono would copy the finished response to add them.
    for (const [name, value] of Object.entries(outcome.headers)) c.header(name, value);
    await next();
  };
}
