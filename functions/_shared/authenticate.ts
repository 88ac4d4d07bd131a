import { getCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { looksLikeSessionToken, sha256Hex } from "./crypto.ts";
import type { Sql } from "./database.ts";
import { ApiError } from "./errors.ts";
import type { AppContext, AppEnv } from "./http.ts";
import { type Principal, rolePermissions } from "./principal.ts";
import { userProfile, type UserRow } from "./users.ts";

export const sessionCookieName = "latchkey.session_token";

/** The presented credential: `Authorization: Bearer` first, then the session cookie. */
export function presentedCredential(c: AppContext): string | null {
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

interface SessionRow extends UserRow {
  session_id: string;
  session_expires_at: Date;
}

/** Resolves a session token to its principal, or null when it is unknown, revoked or expired. */
export async function authenticateSessionToken(
  sql: Sql,
  token: string,
): Promise<Principal | null> {
  if (!looksLikeSessionToken(token)) return null;
  const [row] = await sql<SessionRow[]>`
    select * from latchkey.authenticate_session(decode(${sha256Hex(token)}, 'hex'))`;
  if (!row) return null;
  const user = userProfile(row);
  return {
    kind: "session",
    userId: user.id,
    role: user.role,
    permissions: rolePermissions[user.role],
    credentialId: row.session_id,
    user,
    session: { id: row.session_id, expiresAt: row.session_expires_at.toISOString() },
  };
}

/** Requires an interactive session; sets `principal` for the route. */
export const requireSession = createMiddleware<AppEnv>(async (c, next) => {
  const token = presentedCredential(c);
  if (!token) throw new ApiError("unauthorized");
  const principal = await authenticateSessionToken(c.get("runtime").sql, token);
  if (!principal) {
    throw new ApiError("unauthorized", {
      message: "The session token is invalid, expired or revoked. Sign in again.",
    });
  }
  c.set("principal", principal);
  await next();
});
