import { deleteCookie, setCookie } from "hono/cookie";
import { sessionCookieName } from "../_shared/identity/credentials.ts";
import type { Config } from "../_shared/config/config.ts";
import { newSessionToken, sha256Hex } from "../_shared/ground/crypto.ts";
import type { AppContext } from "../_shared/http/context.ts";
import { userProfile, type UserRow } from "../_shared/accounts/users.ts";
import { type PasswordWarning, warningsField } from "../_shared/passwords/breached_passwords.ts";
import type { Aal, AmrEntry } from "../_shared/ground/principal.ts";

/** A session about to be created: the token goes to the client once, its hash to the database. */
export interface SessionGrant {
  token: string;
  tokenHashHex: string;
  expiresAt: Date;
}

export function newSessionGrant(config: Config): SessionGrant {
  const token = newSessionToken();
  return {
    token,
    tokenHashHex: sha256Hex(token),
    expiresAt: new Date(Date.now() + config.LATCHKEY_SESSION_TTL_HOURS * 3600_000),
  };
}

/** How long a sign-in's challenge lasts: enough to open an authenticator app, no more. */
export const challengeMinutes = 5;

export function challengeExpiresAt(): Date {
  return new Date(Date.now() + challengeMinutes * 60_000);
}

/** Row shape returned by `latchkey.sign_up`, `start_session` and `complete_sign_in_challenge`. */
export interface SessionStartRow extends UserRow {
  session_id: string;
  session_expires_at: Date;
  /** Absent from sign-up's row: a new account's session is aal1, its password given then. */
  aal?: Aal;
  amr?: AmrEntry[];
}

const localHosts = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

// Browsers drop Secure cookies on plain-http localhost, which is where people try it first.
function cookieIsSecure(c: AppContext): boolean {
  return !localHosts.has(new URL(c.req.url).hostname);
}

/** `{user, session}` with the new token, which also goes into the session cookie. */
export function respondWithNewSession(
  c: AppContext,
  row: SessionStartRow,
  grant: SessionGrant,
  warnings: PasswordWarning[] = [],
) {
  setCookie(c, sessionCookieName, grant.token, {
    httpOnly: true,
    secure: cookieIsSecure(c),
    sameSite: "Lax",
    path: "/",
    expires: row.session_expires_at,
  });
  return c.json({
    user: userProfile(row),
    session: {
      id: row.session_id,
      token: grant.token,
      expiresAt: row.session_expires_at.toISOString(),
      aal: row.aal ?? "aal1",
      // Sign-up's account and session are made in one transaction: the same now().
      amr: row.amr ??
        [{ method: "password", timestamp: Math.floor(row.created_at.getTime() / 1000) }],
    },
    ...warningsField(warnings),
  });
}

export function clearSessionCookie(c: AppContext): void {
  deleteCookie(c, sessionCookieName, { path: "/", secure: cookieIsSecure(c) });
}
