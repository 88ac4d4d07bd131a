import { getCookie } from "hono/cookie";
import { ApiError } from "../ground/errors.ts";
import type { AppContext } from "../http/context.ts";

/** Reading the credential a request presents; which check it goes to is authenticate.ts's. */

/** The cookie sign-in sets, holding the session token. */
export const sessionCookieName = "latchkey.session_token";

/**
 * The presented credential: `x-api-key` first (supabase-js always sends its anon key as
 * `Authorization`), then `Authorization: Bearer`, then the session cookie.
 */
export function presentedCredential(c: AppContext): string | null {
  const apiKey = c.req.header("x-api-key");
  if (apiKey !== undefined) return apiKey.trim();
  const authorization = c.req.header("authorization");
  if (authorization !== undefined) {
    const match = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(authorization);
    if (!match) {
      throw new ApiError("unauthorized", {
        message: "The Authorization header must be `Bearer <token>`.",
      });
    }
    return match[1];
  }
  return getCookie(c, sessionCookieName) ?? null;
}
