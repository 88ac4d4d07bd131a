import { requestJson, withinTimeout } from "../_shared/database.ts";
import { ApiError } from "../_shared/errors.ts";
import { type AppContext, clientIp, requestInfo } from "../_shared/http.ts";

export interface SignInCandidate {
  user_id: string | null;
  password_hash: string | null;
  is_banned: boolean | null;
  retry_after_seconds: number;
  throttled_by: "client" | "email_client" | "email" | null;
  email_verified: boolean | null;
}

export type FailureReason =
  | "unknown_email"
  | "no_password"
  | "wrong_password"
  | "wrong_current_password"
  | "banned"
  | "throttled";

const throttledMessages = {
  client: "Too many failed sign-ins from this client; retry later.",
  email_client: "Too many failed sign-ins for this email; retry later.",
  email: "This account is getting many failed sign-ins; retry shortly.",
};

/**
 * The sign-in throttles, checked before any hash (one statement, known email or not): the
 * (email, client) lock-out, the client's allowance across emails and the email's ceiling
 * across clients. Returns the candidate; throws 429 when a throttle holds.
 */
export async function beginSignIn(
  c: AppContext,
  email: string,
  recordFailure: (userId: string | null, reason: FailureReason) => Promise<unknown>,
): Promise<SignInCandidate> {
  const { sql, config } = c.get("runtime");
  const [candidate] = await withinTimeout(
    sql,
    sql<SignInCandidate[]>`
      select * from latchkey.begin_sign_in(
        ${email}, ${clientIp(c) ?? "unknown"}, ${config.LATCHKEY_SIGN_IN_MAX_FAILURES},
        make_interval(mins => ${config.LATCHKEY_SIGN_IN_WINDOW_MINUTES}),
        ${config.LATCHKEY_SIGN_IN_FAILURES_PER_CLIENT},
        ${config.LATCHKEY_SIGN_IN_FAILURES_PER_EMAIL})`,
  );
  if (candidate.retry_after_seconds > 0) {
    await recordFailure(candidate.user_id, "throttled");
    throw new ApiError("too_many_requests", {
      message: throttledMessages[candidate.throttled_by ?? "email_client"],
      headers: { "Retry-After": String(candidate.retry_after_seconds) },
    });
  }
  return candidate;
}

/** Records a failed sign-in (or wrong current password) against every throttle it feeds. */
export function failureRecorder(c: AppContext, email: string) {
  const { sql, config } = c.get("runtime");
  const request = requestJson(sql, requestInfo(c));
  return (userId: string | null, reason: FailureReason) =>
    withinTimeout(
      sql,
      sql`select latchkey.record_failed_sign_in(${email}, ${userId}, ${reason},
        ${clientIp(c) ?? "unknown"},
        make_interval(mins => ${config.LATCHKEY_SIGN_IN_WINDOW_MINUTES}),
        ${config.LATCHKEY_SIGN_IN_FAILURES_PER_CLIENT},
        ${config.LATCHKEY_SIGN_IN_FAILURES_PER_EMAIL}, ${request})`,
    );
}
