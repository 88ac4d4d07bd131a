import { withStatementTimeout } from "../db/database.ts";
import { continueAfterResponse } from "../ground/edge_runtime.ts";
import { describeError, log } from "../config/log.ts";
import { mailerFor, type MailKind } from "./mailer.ts";
import { enabledNotifications } from "../config/config.ts";
import type { Runtime } from "../db/runtime.ts";

/**
 * Mail leaves from `latchkey.mail_outbox`, written in the transaction that made its token.
 * Each isolate sends what is due: right after a request that queued mail, and after any
 * request at most every 30 s, so retries need no cron job (and wait for the next request on an
 * idle service). Attempts back off 30 s · 2^n (at most an hour); after 8 the message is given
 * up on and audited as mail.delivery_failed.
 */
export const maxMailAttempts = 8;
const sweepEveryMs = 30_000;
const batch = 20;

interface ClaimedMail {
  id: string;
  kind: MailKind;
  recipient: string;
  subject: string;
  text_body: string;
  html_body: string;
  attempts: number;
}

const lastSweep = new WeakMap<Runtime, number>();
const sending = new WeakSet<Runtime>();
/** Mail queued while a send ran (which may have claimed before it was there): send again. */
const sendAgain = new WeakSet<Runtime>();

/** Sends every due message once; returns how many were delivered and how many failed. */
export async function deliverDueMail(runtime: Runtime): Promise<{ sent: number; failed: number }> {
  const mailer = mailerFor(runtime.config);
  const totals = { sent: 0, failed: 0 };
  if (!mailer) return totals;
  const { sql } = runtime;
  while (true) {
    const claimed = await withStatementTimeout(
      sql,
      sql<ClaimedMail[]>`select * from latchkey.claim_mail(${batch})`,
    );
    for (const mail of claimed) {
      let failure: string | null = null;
      try {
        await mailer.send({
          to: mail.recipient,
          subject: mail.subject,
          text: mail.text_body,
          html: mail.html_body,
          kind: mail.kind,
        });
        totals.sent += 1;
      } catch (error) {
        failure = error instanceof Error ? error.message : String(error);
        totals.failed += 1;
        log("warn", "mail_delivery_failed", {
          mailId: mail.id,
          kind: mail.kind,
          attempt: mail.attempts,
          error: describeError(error),
        });
      }
      await withStatementTimeout(
        sql,
        sql`select latchkey.record_mail_attempt(${mail.id}, ${failure}, ${maxMailAttempts})`,
      );
    }
    if (claimed.length < batch) return totals;
  }
}

/** Starts a send in the background (never on the request's path); `now` skips the 30-s wait. */
export function deliverMailInBackground(runtime: Runtime, { now = false } = {}): void {
  if (!mailerFor(runtime.config)) return;
  if (sending.has(runtime)) {
    if (now) sendAgain.add(runtime);
    return;
  }
  const at = Date.now();
  if (!now && at - (lastSweep.get(runtime) ?? -Infinity) < sweepEveryMs) return;
  lastSweep.set(runtime, at);
  sending.add(runtime);
  const run = deliverDueMail(runtime)
    .catch((error) => log("warn", "mail_sweep_failed", { error: describeError(error) }))
    .finally(() => {
      sending.delete(runtime);
      if (sendAgain.delete(runtime)) deliverMailInBackground(runtime, { now: true });
    });
  continueAfterResponse(run);
}

/**
 * After a change that may have queued notification mail (a route with `notifies`): a send now,
 * when any kind is enabled (LATCHKEY_NOTIFY), so the holder hears of it within seconds.
 */
export function sendNotificationsSoon(runtime: Runtime): void {
  if (enabledNotifications(runtime.config).length) deliverMailInBackground(runtime, { now: true });
}
