import { requestJson, withStatementTimeout } from "../_shared/db/database.ts";
import { ApiError } from "../_shared/ground/errors.ts";
import { type AppContext } from "../_shared/http/context.ts";
import { requestInfo, throttleClient } from "../_shared/http/request.ts";

export interface SignInCandidate {
  user_id: string | null;
  password_hash: string | null;
  is_banned: boolean | null;
  retry_after_seconds: number;
  throttled_by: "client" | "email_client" | "email" | null;
  email_verified: boolean | null;
  /** The reserved attempt (its failure row); null when a throttle refused it. */
  attempt_id: string | null;
}

export type FailureReason =
  | "unknown_email"
  | "no_password"
  | "wrong_password"
  | "wrong_current_password"
  | "wrong_factor_code"
  | "banned";

const throttledMessages = {
  client: "Too many failed sign-ins from this client; retry later.",
  email_client: "Too many failed sign-ins for this email; retry later.",
  email: "This account is getting many failed sign-ins; retry shortly.",
};

/** A password check under the sign-in throttles, already counted as a failure. */
export interface SignInAttempt {
  candidate: SignInCandidate;
  /** Audits the failure (a wrong current password or factor code is audited by its route). */
  failed(reason: FailureReason): Promise<void>;
  /** The password was right: the attempt is given back to every budget. */
  succeeded(): Promise<void>;
}

type ThrottleKind = keyof typeof throttledMessages;

/**
 * Refusals this isolate has been told of, until when (ms since the epoch), per configuration.
 * A throttle's refusal only ever lasts at least as long as the Retry-After it answered, so
 * until then the same client (or pair, or email) is refused from memory: a flood of refused
 * sign-ins costs the database nothing and leaves its connections to everyone else. Those
 * refusals are not counted in the audit row's repeatsInPreviousMinute.
 */
const knownRefusals = new WeakMap<object, Map<string, number>>();
const maxKnownRefusals = 10_000;

function refusalKeys(email: string, client: string): Record<ThrottleKind, string> {
  const address = email.toLowerCase();
  return {
    client: `client ${client}`,
    email_client: `pair ${address} ${client}`,
    email: `email ${address}`,
  };
}

function throttled(kind: ThrottleKind, retryAfterSeconds: number): ApiError {
  return new ApiError("too_many_requests", {
    message: throttledMessages[kind],
    headers: { "Retry-After": String(retryAfterSeconds) },
  });
}

/**
 * Reserves one password check before any hash (one statement, known email or not): the
 * (email, client) lock-out, the client's allowance across emails and the email's ceiling are
 * checked and the attempt counted against all three under locks on its client and email, so
 * the budgets hold however many attempts arrive at once. Throws 429 when a throttle holds.
 */
export async function reserveSignIn(c: AppContext, email: string): Promise<SignInAttempt> {
  const { sql, config } = c.get("runtime");
  const client = throttleClient(c);
  const window = config.LATCHKEY_SIGN_IN_WINDOW_MINUTES;
  let known = knownRefusals.get(config);
  if (!known) knownRefusals.set(config, known = new Map());
  const keys = refusalKeys(email, client);
  const now = Date.now();
  for (const kind of Object.keys(keys) as ThrottleKind[]) {
    const until = known.get(keys[kind]);
    if (until === undefined) continue;
    if (until > now) throw throttled(kind, Math.ceil((until - now) / 1000));
    known.delete(keys[kind]);
  }
  const request = requestJson(sql, requestInfo(c));
  const [candidate] = await withStatementTimeout(
    sql,
    sql<SignInCandidate[]>`
      select * from latchkey.reserve_sign_in(
        ${email}, ${client}, ${config.LATCHKEY_SIGN_IN_MAX_FAILURES},
        make_interval(mins => ${window}), ${config.LATCHKEY_SIGN_IN_FAILURES_PER_CLIENT},
        ${config.LATCHKEY_SIGN_IN_FAILURES_PER_EMAIL}, ${request})`,
  );
  const audit = (reason: FailureReason) =>
    withStatementTimeout(
      sql,
      sql`select latchkey.audit_failed_sign_in(
        ${email}, ${candidate.user_id}, ${reason}, ${request})`,
    );
  // A refusal was audited by the reservation itself: one round trip for a flood's each request.
  if (candidate.retry_after_seconds > 0 || candidate.attempt_id === null) {
    const kind = candidate.throttled_by ?? "email_client";
    // The oldest entries go first once the map is full (a Map keeps insertion order).
    if (known.size >= maxKnownRefusals) known.delete(known.keys().next().value!);
    known.set(keys[kind], now + candidate.retry_after_seconds * 1000);
    throw throttled(kind, candidate.retry_after_seconds);
  }
  return {
    candidate,
    async failed(reason) {
      if (reason !== "wrong_current_password" && reason !== "wrong_factor_code") {
        await audit(reason);
      }
    },
    async succeeded() {
      await withStatementTimeout(
        sql,
        sql`select latchkey.release_sign_in(
          ${candidate.attempt_id}, ${email}, ${client}, make_interval(mins => ${window}),
          ${config.LATCHKEY_SIGN_IN_FAILURES_PER_CLIENT},
          ${config.LATCHKEY_SIGN_IN_FAILURES_PER_EMAIL})`,
      );
    },
  };
}
