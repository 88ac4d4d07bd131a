import { queueVerificationMail } from "../../_shared/accounts/email_verification.ts";
import { ApiError } from "../../_shared/ground/errors.ts";
import { mailerFor } from "../../_shared/mail/mailer.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { mailerNotConfigured, recoveryThrottled } from "./forgot_password.ts";
import { withStatementTimeout } from "../../_shared/db/database.ts";
import { throttleClient } from "../../_shared/http/request.ts";

export const resendVerificationRoute = defineRoute({
  method: "post",
  path: "/email/resend",
  summary: "Send the caller a new email-verification link",
  auth: ["session"],
  ownIdentityOnly: true,
  responses: {
    200: "`{success: true, alreadyVerified}`: a new link is on its way (none when the address " +
      "is verified already).",
    429: "LATCHKEY_EMAIL_VERIFICATION_RESENDS_PER_HOUR links this hour already; see Retry-After.",
    501: "No mailer is configured (LATCHKEY_MAILER=none).",
  },
}, async (c) => {
  const runtime = c.get("runtime");
  const principal = c.get("principal");
  if (!mailerFor(runtime.config)) throw mailerNotConfigured();
  const user = principal.user!;
  if (user.emailVerifiedAt) return c.json({ success: true, alreadyVerified: true });
  // Per client too, like every account route: many sessions on one client share it.
  const [{ retry_after }] = await withStatementTimeout(
    runtime.sql,
    runtime.sql<{ retry_after: number }[]>`
      select latchkey.take_client_allowance('recovery_client', ${throttleClient(c)},
        ${runtime.config.LATCHKEY_RECOVERY_PER_CLIENT_PER_HOUR}, '1 hour') as retry_after`,
  );
  if (retry_after > 0) throw recoveryThrottled(retry_after);
  const { retryAfter } = await queueVerificationMail(
    runtime,
    user.id,
    user.email,
    runtime.config.LATCHKEY_EMAIL_VERIFICATION_RESENDS_PER_HOUR,
  );
  if (retryAfter > 0) {
    throw new ApiError("too_many_requests", {
      message: "Verification links are limited per hour; retry later.",
      headers: { "Retry-After": String(retryAfter) },
    });
  }
  return c.json({ success: true, alreadyVerified: false });
});
