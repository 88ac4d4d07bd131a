import { emailVerificationMail } from "../mail/account_mail.ts";
import { newAccountToken, sha256Hex } from "../ground/crypto.ts";
import { withStatementTimeout } from "../db/database.ts";
import { continueAfterResponse } from "../ground/edge_runtime.ts";
import { describeError, log } from "../config/log.ts";
import { mailerFor } from "../mail/mailer.ts";
import { deliverMailInBackground } from "../mail/outbox.ts";
import type { Runtime } from "../db/runtime.ts";

/**
 * Queues a verification link for the account's address (not for one verified already, nor
 * without a mailer); with `resendLimit`, as a resend limited per account per hour. Returns
 * the seconds to wait when that limit holds (0 otherwise) and whether mail was queued.
 */
export async function queueVerificationMail(
  runtime: Runtime,
  userId: string,
  email: string,
  resendLimit: number | null = null,
): Promise<{ retryAfter: number; queued: boolean }> {
  const { config, sql } = runtime;
  if (!mailerFor(config)) return { retryAfter: 0, queued: false };
  const token = newAccountToken();
  const mail = emailVerificationMail(config, email, token);
  const [row] = await withStatementTimeout(
    sql,
    sql<{ retry_after: number; queued: boolean }[]>`
      select * from latchkey.queue_email_verification(${userId}, decode(${sha256Hex(token)}, 'hex'),
        make_interval(hours => ${config.LATCHKEY_EMAIL_VERIFICATION_TTL_HOURS}),
        ${mail.subject}, ${mail.text}, ${mail.html}, ${resendLimit})`,
  );
  if (row.queued) deliverMailInBackground(runtime, { now: true });
  return { retryAfter: row.retry_after, queued: row.queued };
}

/**
 * After an account was made: its first link. The account exists whatever happens here, so a
 * failure is logged (the owner can ask for a resend), never the request's error.
 */
export async function sendFirstVerificationMail(
  runtime: Runtime,
  userId: string,
  email: string,
): Promise<void> {
  try {
    await queueVerificationMail(runtime, userId, email);
  } catch (error) {
    log("warn", "verification_mail_not_queued", { userId, error: describeError(error) });
  }
}

/** The first link, queued after the answer (kept alive inside the edge runtime until done). */
export function sendFirstVerificationMailLater(
  runtime: Runtime,
  userId: string,
  email: string,
): void {
  continueAfterResponse(sendFirstVerificationMail(runtime, userId, email));
}
