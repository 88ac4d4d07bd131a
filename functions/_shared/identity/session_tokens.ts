import { looksLikeSessionToken, sha256Hex } from "../ground/crypto.ts";
import { type Sql, withStatementTimeout } from "../db/database.ts";
import { type Principal, rolePermissions } from "../ground/principal.ts";
import { userProfile, type UserRow } from "../accounts/users.ts";

/** Latchkey's own session tokens (`lks_…`), stored as SHA-256 and resolved in one SQL call. */

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
  const [row] = await withStatementTimeout(
    sql,
    sql<SessionRow[]>`
      select s.*, u.email_verified_at
      from latchkey.authenticate_session(decode(${sha256Hex(token)}, 'hex')) as s
      join latchkey.users u on u.id = s.id`,
  );
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
    apiKey: null,
    rateLimit: null,
  };
}
