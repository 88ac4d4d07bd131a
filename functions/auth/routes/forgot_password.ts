import { z } from "zod";
import { passwordResetMail } from "../../_shared/mail/account_mail.ts";
import { newAccountToken, sha256Hex } from "../../_shared/ground/crypto.ts";
import { type RequestInfo, requestJson, withStatementTimeout } from "../../_shared/db/database.ts";
import { ApiError } from "../../_shared/ground/errors.ts";
import { requestInfo, throttleClient } from "../../_shared/http/request.ts";
import { mailerFor } from "../../_shared/mail/mailer.ts";
import { deliverMailInBackground } from "../../_shared/mail/outbox.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { continueAfterResponse } from "../../_shared/ground/edge_runtime.ts";
import { describeError, log } from "../../_shared/config/log.ts";
import type { Runtime } from "../../_shared/db/runtime.ts";
import { emailSchema } from "../../_shared/accounts/users.ts";

export const forgotPasswordBody = z.strictObject({ email: emailSchema });

export const mailerNotConfigured = () =>
  new ApiError("not_configured", {
    message: "No mailer is configured here (LATCHKEY_MAILER=none): an admin can set a " +
      "password with POST /admin/users/:id/password.",
  });

// The same work and the same answer for every email: the token and the mail are made before
// anyone knows whether the account exists, and one statement decides, with one durable write
// either way. Whether mail was queued wakes the sender, in the background, after the answer.
export const forgotPasswordRoute = defineRoute({
  method: "post",
  path: "/password/forgot",
  summary: "Ask for a password-reset link (the same answer for every email)",
  auth: [],
  ownIdentityOnly: true,
  body: forgotPasswordBody,
  responses: {
    200: "`{success: true}` whether or not the account exists; at most " +
      "LATCHKEY_PASSWORD_RESET_PER_EMAIL_PER_HOUR mails an address an hour.",
    429: "Too many recovery requests from this client; see Retry-After.",
    501: "No mailer is configured (LATCHKEY_MAILER=none).",
  },
}, async (c, { body: { email } }) => {
  const runtime = c.get("runtime");
  const { config, sql } = runtime;
  if (!mailerFor(config)) throw mailerNotConfigured();
  const client = throttleClient(c);
  // Before the answer only what every email costs alike: the client's allowance.
  const [{ retry_after }] = await withStatementTimeout(
    sql,
    sql<{ retry_after: number }[]>`
      select latchkey.take_client_allowance('recovery_client', ${client},
        ${config.LATCHKEY_RECOVERY_PER_CLIENT_PER_HOUR}, '1 hour') as retry_after`,
  );
  if (retry_after > 0) throw recoveryThrottled(retry_after);
  // After it, the rest: an account's token and mail are writes an unknown email does not get,
  // and would make its answer later.
  continueAfterResponse(sendPasswordReset(runtime, email, client, requestInfo(c)));
  return c.json({ success: true });
});

async function sendPasswordReset(
  runtime: Runtime,
  email: string,
  client: string,
  request: RequestInfo,
): Promise<void> {
  const { config, sql } = runtime;
  const token = newAccountToken();
  const mail = passwordResetMail(config, email, token);
  try {
    const [{ queued }] = await withStatementTimeout(
      sql,
      sql<{ queued: boolean }[]>`
        select latchkey.send_password_reset(
          ${email}, decode(${sha256Hex(token)}, 'hex'),
          make_interval(mins => ${config.LATCHKEY_PASSWORD_RESET_TTL_MINUTES}),
          ${mail.subject}, ${mail.text}, ${mail.html}, ${client},
          ${config.LATCHKEY_PASSWORD_RESET_PER_EMAIL_PER_HOUR}, ${requestJson(sql, request)})
          as queued`,
    );
    if (queued) deliverMailInBackground(runtime, { now: true });
  } catch (error) {
    // The answer is gone: the person asks again; the operator reads this.
    log("warn", "password_reset_not_queued", { error: describeError(error) });
  }
}

export function recoveryThrottled(retryAfter: number): ApiError {
  return new ApiError("too_many_requests", {
    message: "Too many account-recovery requests from this client; retry later.",
    headers: { "Retry-After": String(retryAfter) },
  });
}
