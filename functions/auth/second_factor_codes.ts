import { z } from "zod";
import { withStatementTimeout } from "../_shared/db/database.ts";
import { ApiError } from "../_shared/ground/errors.ts";
import { type AppContext } from "../_shared/http/context.ts";
import { asCaller } from "../_shared/http/request.ts";
import {
  decryptTotpSecret,
  isTotpCode,
  matchingTotpStep,
  mfaEncryptionKey,
  newRecoveryCodes,
  recoveryCodeHashHex,
} from "../_shared/factors/totp.ts";
import { challengeGone } from "./session_assurance.ts";
import { reserveSignIn } from "./sign_in_throttles.ts";

export const noSuchFactor = "No such factor of yours.";

/** A TOTP code as the factor routes take it: six digits, spaces allowed between. */
export const totpCodeSchema = z.string().trim().max(16).refine(
  isTotpCode,
  "Enter the six-digit code from your authenticator app.",
).transform((code) => code.replace(/\s/g, "")).meta({ examples: ["123456"] });

interface FactorToCheck {
  id: string;
  secret_ciphertext: Uint8Array;
  confirmed: boolean;
}

interface AcceptedCode {
  outcome: "confirmed" | "verified" | "replayed" | "not_found" | "challenge_gone";
  recovery_codes_issued: boolean;
}

export interface CheckedCode {
  factorId: string | null;
  /** What the code was, as a session's `amr` names it. */
  method: "totp" | "recovery_code";
  /** Set only when this check confirmed a factor and the account had no unused codes. */
  recoveryCodes?: string[];
}

function wrongCode(replayed: boolean): ApiError {
  return new ApiError("invalid_factor_code", {
    details: [{
      path: "code",
      message: replayed
        ? "This code was used already; wait for the next one."
        : "This code is not right (check the device's clock).",
    }],
  });
}

/** The step the code belongs to on this factor, or null (a secret we cannot open is a fault). */
async function stepOf(c: AppContext, factor: FactorToCheck, code: string) {
  const key = mfaEncryptionKey(c.get("runtime").config);
  const secret = await decryptTotpSecret(key, factor.id, factor.secret_ciphertext);
  return matchingTotpStep(secret, code);
}

function factorsToCheck(c: AppContext, factorId: string | null): Promise<FactorToCheck[]> {
  return asCaller(c, (tx) =>
    tx<FactorToCheck[]>`
      select id, secret_ciphertext, confirmed from latchkey.totp_factors_to_check(${factorId})`);
}

async function accept(c: AppContext, factor: FactorToCheck, step: number) {
  const recoveryCodes = factor.confirmed ? [] : newRecoveryCodes();
  const hashes = recoveryCodes.map(recoveryCodeHashHex);
  const [accepted] = await asCaller(c, (tx) =>
    tx<AcceptedCode[]>`
      select * from latchkey.accept_totp_code(${factor.id}, ${step},
        array(select decode(h, 'hex') from unnest(${hashes}::text[]) h))`);
  return { accepted, recoveryCodes };
}

/** A TOTP guess reserved against the account's own budget for wrong codes. */
interface TotpGuess {
  /** The code was right: the guess is given back. */
  release(): Promise<void>;
}

/**
 * Reserves a TOTP guess against the account's budget (LATCHKEY_TOTP_FAILURES_PER_DAY from all
 * clients together), before the code is checked. The sign-in budgets, made for passwords, let
 * about 9,700 guesses a day at one account through; this one keeps a day's at twice the budget
 * at most. Throws 429 past it, however right the code.
 */
async function reserveTotpGuess(c: AppContext): Promise<TotpGuess> {
  const { sql, config } = c.get("runtime");
  const userId = c.get("principal").userId!;
  const limit = config.LATCHKEY_TOTP_FAILURES_PER_DAY;
  const [{ retryAfter }] = await withStatementTimeout(
    sql,
    sql<{ retryAfter: number }[]>`
      select latchkey.reserve_totp_guess(${userId}, ${limit}, interval '1 day') as "retryAfter"`,
  );
  if (retryAfter > 0) {
    throw new ApiError("too_many_requests", {
      message: "Too many wrong codes for this account: use a recovery code, or retry later.",
      headers: { "Retry-After": String(retryAfter) },
    });
  }
  return {
    async release() {
      await withStatementTimeout(
        sql,
        sql`select latchkey.release_totp_guess(${userId}, ${limit}, interval '1 day')`,
      );
    },
  };
}

export interface CheckOptions {
  /** Only confirmed factors count (completing a sign-in: an unconfirmed one proves nothing). */
  confirmedOnly?: boolean;
  /** Only an unused recovery code counts. */
  recoveryCodeOnly?: boolean;
}

/**
 * Checks a code under the sign-in throttles (a wrong second factor is a failed sign-in for the
 * account and for the client), so a stolen session cannot guess codes at leisure. With a factor
 * id, a TOTP code of that factor (confirmed or not); without, a TOTP code of any confirmed factor
 * of the caller's or one of their unused recovery codes. A code's time step is taken once: the
 * same code again is a replay. A TOTP code is also a guess against the account's own budget for
 * wrong codes (reserveTotpGuess). With sign-in's challenge, a right code claims the challenge as
 * it is spent: of requests racing with one challenge, one spends its code and the others 401.
 * Throws 404 for a factor that is not the caller's, 400 for a wrong or replayed code (audited),
 * 429 past an allowance, 401 for a challenge another request claimed.
 */
export async function checkSecondFactorCode(
  c: AppContext,
  factorId: string | null,
  code: string,
  options: CheckOptions = {},
): Promise<CheckedCode> {
  mfaEncryptionKey(c.get("runtime").config);
  const factors = options.recoveryCodeOnly
    ? []
    : (await factorsToCheck(c, factorId)).filter((factor) =>
      factor.confirmed || !options.confirmedOnly
    );
  if (factorId && factors.length === 0) throw new ApiError("not_found", { message: noSuchFactor });
  const attempt = await reserveSignIn(c, c.get("principal").user!.email);
  const totp = isTotpCode(code) && !options.recoveryCodeOnly;
  let guess: TotpGuess | null = null;
  if (totp) {
    try {
      guess = await reserveTotpGuess(c);
    } catch (error) {
      // No code was checked: the sign-in budgets are not charged for it.
      await attempt.succeeded();
      throw error;
    }
  }
  const giveBack = async () => {
    await attempt.succeeded();
    await guess?.release();
  };
  let replayed = false;
  if (totp) {
    const digits = code.replace(/\s/g, "");
    for (const factor of factors) {
      const step = await stepOf(c, factor, digits);
      if (step === null) continue;
      const { accepted, recoveryCodes } = await accept(c, factor, step);
      if (accepted.outcome === "not_found") {
        throw new ApiError("not_found", { message: noSuchFactor });
      }
      // Another code claimed the caller's challenge first (a race): nothing was taken.
      if (accepted.outcome === "challenge_gone") {
        await giveBack();
        throw challengeGone;
      }
      if (accepted.outcome === "replayed") {
        replayed = true;
        continue;
      }
      await giveBack();
      return {
        factorId: factor.id,
        method: "totp",
        ...(accepted.recovery_codes_issued ? { recoveryCodes } : {}),
      };
    }
  } else if (!factorId) {
    const [{ spent }] = await asCaller(
      c,
      (tx) =>
        tx<{ spent: "spent" | "not_found" | "challenge_gone" }[]>`
        select latchkey.use_recovery_code(decode(${recoveryCodeHashHex(code)}, 'hex')) as spent`,
    );
    if (spent === "challenge_gone") {
      await giveBack();
      throw challengeGone;
    }
    if (spent === "spent") {
      await giveBack();
      return { factorId: null, method: "recovery_code" };
    }
  }
  await attempt.failed("wrong_factor_code");
  // A replay was audited by accept_totp_code, in its own statement.
  if (!replayed) {
    await asCaller(c, (tx) =>
      tx`select latchkey.record_audit_event('auth.factor_verify_failed',
        ${factorId ? "factor" : "user"}, ${factorId ?? c.get("principal").userId},
        ${tx.json({ reason: "wrong_code" })})`);
  }
  throw wrongCode(replayed);
}

// The API's view of a factor: shared with the admin function's twins.
export { factorColumns, type FactorRow, factorView } from "../_shared/factors/factor_view.ts";

export const factorNameSchema = z.string().trim().min(1, "Name the factor.").max(100)
  .meta({ examples: ["Phone"] });
