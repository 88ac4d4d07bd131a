import { looksLikeSessionToken, sha256Hex } from "../ground/crypto.ts";
import { type Sql, withStatementTimeout } from "../db/database.ts";
import type { Aal, AmrEntry, Principal } from "../ground/principal.ts";
import { userProfile, type UserRow } from "../accounts/users.ts";

/** Latchkey's own session tokens (`lks_…`), stored as SHA-256 and resolved in one SQL call. */

interface SessionRow extends UserRow {
  session_id: string;
  session_expires_at: Date;
  aal: Aal;
  amr: AmrEntry[];
  purpose: "session" | "mfa_challenge";
  role_permissions: string[];
}

/**
 * Resolves a session token to its principal, or null when it is unknown, revoked or expired.
 * A sign-in's challenge (the same kind of token) resolves only with `challengeToo`.
 */
export async function authenticateSessionToken(
  sql: Sql,
  token: string,
  challengeToo = false,
): Promise<Principal | null> {
  if (!looksLikeSessionToken(token)) return null;
  const [row] = await withStatementTimeout(
    sql,
    sql<SessionRow[]>`
      select s.*, u.email_verified_at, latchkey.role_permission_names(s.role) as role_permissions
      from latchkey.authenticate_session(decode(${sha256Hex(token)}, 'hex'), ${challengeToo}) as s
      join latchkey.users u on u.id = s.id`,
  );
  if (!row) return null;
  const user = userProfile(row);
  const challenge = row.purpose === "mfa_challenge";
  return {
    kind: challenge ? "mfa_challenge" : "session",
    userId: user.id,
    role: user.role,
    // The role's permissions as its rows are now: a change to the role counts from this request
    // on. A challenge proves a password only: it carries nothing the role grants.
    permissions: challenge ? [] : row.role_permissions,
    credentialId: row.session_id,
    user,
    session: {
      id: row.session_id,
      expiresAt: row.session_expires_at.toISOString(),
      aal: row.aal,
      amr: row.amr,
    },
    apiKey: null,
    rateLimit: null,
  };
}
