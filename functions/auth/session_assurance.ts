import { ApiError } from "../_shared/ground/errors.ts";
import type { AppContext } from "../_shared/http/context.ts";
import { asCaller } from "../_shared/http/request.ts";
import type { Aal, AmrEntry, SessionInfo } from "../_shared/ground/principal.ts";
import { newSessionGrant, respondWithNewSession, type SessionStartRow } from "./session_grant.ts";

/** A second factor the route has just accepted, as a session's `amr` names it. */
export type SecondFactorMethod = "totp" | "recovery_code" | "webauthn";

export const challengeGone = new ApiError("unauthorized", {
  message: "This sign-in challenge was used already or has expired. Sign in again.",
});

/**
 * Completes the caller's sign-in challenge: spends it and answers `{user, session}`, an aal2
 * session with the method after the password in its `amr`, set as the cookie too. Only one
 * request completes a challenge; the others (a replay, a race) get 401.
 */
export async function completeSignInChallenge(
  c: AppContext,
  method: SecondFactorMethod,
): Promise<Response> {
  const grant = newSessionGrant(c.get("runtime").config);
  const [row] = await asCaller(c, (tx) =>
    tx<SessionStartRow[]>`
      select * from latchkey.complete_sign_in_challenge(
        decode(${grant.tokenHashHex}, 'hex'), ${grant.expiresAt}, ${method})`);
  if (!row) throw challengeGone;
  return respondWithNewSession(c, row, grant);
}

/** Raises the caller's session to aal2 (audited) and returns it as GET /auth/session shows it. */
export async function raiseSessionAssurance(
  c: AppContext,
  method: SecondFactorMethod,
): Promise<SessionInfo> {
  const [row] = await asCaller(
    c,
    (tx) =>
      tx<{ session_id: string; session_expires_at: Date; aal: Aal; amr: AmrEntry[] }[]>`
      select * from latchkey.raise_session_assurance(${method})`,
  );
  // Revoked or expired since the credential check.
  if (!row) throw new ApiError("unauthorized");
  return {
    id: row.session_id,
    expiresAt: row.session_expires_at.toISOString(),
    aal: row.aal,
    amr: row.amr,
  };
}
