import type { Aal, AmrEntry } from "../ground/principal.ts";

/**
 * The columns of `latchkey.sessions` that lists show (never the token hash). Lists hold
 * sessions only: a sign-in's pending challenge is not one yet.
 */
export interface SessionListRow {
  id: string;
  created_at: Date;
  expires_at: Date;
  ip_address: string | null;
  user_agent: string | null;
  aal: Aal;
  amr: AmrEntry[];
}

export function sessionView(row: SessionListRow) {
  return {
    id: row.id,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
    ipAddress: row.ip_address,
    userAgent: row.user_agent,
    aal: row.aal,
    amr: row.amr,
  };
}
