import { ApiError } from "../_shared/ground/errors.ts";
import { type AppContext } from "../_shared/http/context.ts";
import { asCaller } from "../_shared/http/request.ts";
import {
  type AuthenticationResponse,
  ceremonyTimeoutMs,
  challengeHashHex,
  challengeOf,
  checkAssertion,
  newChallenge,
  type Refusal,
  relyingParty,
  type StoredPasskey,
} from "../_shared/factors/passkeys.ts";
import { base64Decode, constantTimeEqual } from "../_shared/ground/crypto.ts";
import { challengeGone } from "./session_assurance.ts";
import { reserveSignIn } from "./sign_in_throttles.ts";

/**
 * The database side of a WebAuthn ceremony for the caller (a session, or sign-in's challenge):
 * its challenges, stored hashed, bound to the credential that asked and spent by the first
 * answer; the caller's passkeys; the audit of a refusal.
 */

export type Ceremony = "registration" | "authentication";

/** A new challenge, stored for this caller and ceremony; what goes into the options. */
export async function issueChallenge(
  c: AppContext,
  ceremony: Ceremony,
  factorName: string | null = null,
): Promise<string> {
  const { challenge, hashHex } = newChallenge();
  const expiresAt = new Date(Date.now() + ceremonyTimeoutMs);
  await asCaller(
    c,
    (tx) =>
      tx`select latchkey.issue_webauthn_challenge(decode(${hashHex}, 'hex'), ${ceremony},
      ${factorName}, ${expiresAt})`,
  );
  return challenge;
}

export interface SpentChallenge {
  challenge: string;
  factorName: string | null;
}

/**
 * Spends the challenge a response's clientDataJSON names, if it is this caller's, of this
 * ceremony, issued to this credential and alive; null otherwise (a replay, a race lost, a
 * challenge of another session or made up).
 */
export async function spendChallenge(
  c: AppContext,
  ceremony: Ceremony,
  clientDataJSON: string,
): Promise<SpentChallenge | null> {
  const challenge = challengeOf(clientDataJSON);
  if (!challenge) return null;
  const [row] = await asCaller(c, (tx) =>
    tx<{ spent: boolean; factor_name: string | null }[]>`
      select spent, factor_name from latchkey.spend_webauthn_challenge(
        decode(${challengeHashHex(challenge)}, 'hex'), ${ceremony})`);
  return row?.spent ? { challenge, factorName: row.factor_name } : null;
}

export interface PasskeyToCheck extends StoredPasskey {
  id: string;
  name: string;
  publicKey: Uint8Array;
  signCount: number;
}

/** The caller's passkeys (key material included): `factorId`'s, or every one. */
export async function passkeysToCheck(
  c: AppContext,
  factorId: string | null = null,
): Promise<PasskeyToCheck[]> {
  const rows = await asCaller(c, (tx) =>
    tx<{
      id: string;
      name: string;
      credential_id: Uint8Array;
      public_key: Uint8Array;
      sign_count: string;
      transports: string[] | null;
    }[]>`
      select id, name, credential_id, public_key, sign_count, transports
      from latchkey.passkeys_to_check(${factorId})`);
  return rows.map((row) => ({
    id: row.id,
    name: row.name,
    credentialId: row.credential_id,
    publicKey: row.public_key,
    signCount: Number(row.sign_count),
    transports: row.transports,
  }));
}

/** Audits a refused registration or assertion (the reason, never the response). */
export async function auditRefusal(
  c: AppContext,
  ceremony: Ceremony,
  reason: string,
  factorId: string | null = null,
): Promise<void> {
  const action = ceremony === "registration"
    ? "auth.passkey_registration_failed"
    : "auth.factor_verify_failed";
  await asCaller(
    c,
    (tx) =>
      tx`select latchkey.record_audit_event(${action}, ${factorId ? "factor" : "user"},
      ${factorId ?? c.get("principal").userId},
      ${tx.json({ reason, type: "passkey" })})`,
  );
}

/** The 400 a refused passkey answers, saying what was wrong (the audit keeps the reason). */
export function passkeyRefused(refusal: Pick<Refusal, "message">): ApiError {
  return new ApiError("invalid_passkey", {
    details: [{ path: "(body)", message: refusal.message }],
  });
}

export const challengeNotFound: Refusal = {
  ok: false,
  reason: "challenge",
  message: "This answer is not to a live challenge of this session (used already, expired, " +
    "or never asked): ask for new options.",
};

/**
 * Checks an assertion by the caller's passkey `factorId` under the sign-in throttles (a refused
 * one is a failed sign-in for the account and the client, as a wrong code is): the credential
 * must be that passkey's, the challenge a live one of this caller's, the origin, relying party
 * and user verification right, the signature good, and the counter above the stored one
 * (unless both are zero: authenticators that keep none). With sign-in's challenge, an accepted
 * assertion claims the challenge in the statement that takes the counter, as a code does.
 * Throws 404 for a passkey that is not the caller's, 400 invalid_passkey (audited), 429 past
 * the allowance, 401 for a challenge another request claimed.
 */
export async function checkPasskeyAssertion(
  c: AppContext,
  factorId: string,
  assertion: AuthenticationResponse,
): Promise<void> {
  const rp = relyingParty(c.get("runtime").config, c.req.url);
  const [passkey] = await passkeysToCheck(c, factorId);
  if (!passkey) throw new ApiError("not_found", { message: "No such passkey of yours." });
  const attempt = await reserveSignIn(c, c.get("principal").user!.email);
  const refuse = async (refusal: Pick<Refusal, "reason" | "message">, audited = false) => {
    await attempt.failed("wrong_factor_code");
    if (!audited) await auditRefusal(c, "authentication", refusal.reason, factorId);
    return passkeyRefused(refusal);
  };
  const rawId = base64Decode(assertion.rawId);
  if (!rawId || !constantTimeEqual(rawId, passkey.credentialId)) {
    throw await refuse({
      reason: "another_credential",
      message: "This assertion is not by this passkey.",
    });
  }
  const spent = await spendChallenge(c, "authentication", assertion.response.clientDataJSON);
  if (!spent) throw await refuse(challengeNotFound);
  const checked = await checkAssertion(rp, assertion, spent.challenge, passkey);
  if (!checked.ok) throw await refuse(checked);
  const [{ outcome }] = await asCaller(
    c,
    (tx) =>
      tx<{ outcome: "verified" | "counter_not_increased" | "not_found" | "challenge_gone" }[]>`
      select latchkey.accept_passkey_assertion(${factorId}, ${checked.signCount},
        ${checked.backedUp}) as outcome`,
  );
  if (outcome === "not_found") {
    throw new ApiError("not_found", { message: "No such passkey of yours." });
  }
  // Another factor claimed the caller's sign-in challenge first (a race): nothing was taken.
  if (outcome === "challenge_gone") {
    await attempt.succeeded();
    throw challengeGone;
  }
  if (outcome === "counter_not_increased") {
    // Audited by accept_passkey_assertion, with both counts.
    throw await refuse({
      reason: "counter_not_increased",
      message: "This passkey's signature counter went backwards: the authenticator may have " +
        "been copied. Use another factor, and remove this passkey if you did not expect this.",
    }, true);
  }
  await attempt.succeeded();
}
