import { z } from "zod";
import { requestJson, withStatementTimeout } from "../../_shared/db/database.ts";
import { ApiError } from "../../_shared/ground/errors.ts";
import { asCaller, requestInfo } from "../../_shared/http/request.ts";
import { hashPassword, passwordLength, verifyPassword } from "../../_shared/passwords/passwords.ts";
import { passwordSchema } from "../../_shared/accounts/users.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { reserveSignIn } from "../sign_in_throttles.ts";
import { screenNewPassword, warningsField } from "../../_shared/passwords/breached_passwords.ts";

export const changePasswordBody = z.strictObject({
  currentPassword: z.string().min(1, "Enter your current password.").max(passwordLength.max)
    .meta({ examples: ["correct horse battery staple"] }),
  newPassword: passwordSchema.meta({ examples: ["a different, longer passphrase"] }),
}).refine((body) => body.currentPassword !== body.newPassword, {
  path: ["newPassword"],
  message: "The new password must differ from the current one.",
});

export const changePasswordRoute = defineRoute({
  method: "post",
  path: "/change-password",
  notifies: true,
  summary: "Change the password; other sessions are revoked",
  auth: ["session"],
  ownIdentityOnly: true,
  body: changePasswordBody,
  responses: {
    200: "`{success: true}`.",
    400: "Invalid body or wrong current password.",
    429: "Too many wrong passwords (they count as failed sign-ins); see Retry-After.",
  },
}, async (c, { body: { currentPassword, newPassword } }) => {
  const principal = c.get("principal");
  const { sql } = c.get("runtime");
  const request = requestInfo(c);

  const [{ password_hash: storedHash }] = await withStatementTimeout(
    sql,
    sql<{ password_hash: string | null }[]>`
      select latchkey.password_hash_of(${principal.userId}) as password_hash`,
  );
  // A wrong current password is a failed sign-in: the same throttles, checked before the hash,
  // so a stolen session cannot guess the password at leisure.
  const email = principal.user!.email;
  const attempt = await reserveSignIn(c, email);
  const check = storedHash ? await verifyPassword(currentPassword, storedHash) : { matches: false };
  if (!check.matches) {
    await attempt.failed("wrong_current_password");
    await asCaller(c, (tx) =>
      tx`select latchkey.record_audit_event(
          'auth.password_change_failed', 'user', ${principal.userId})`);
    throw new ApiError("invalid_current_password", {
      details: [{ path: "currentPassword", message: "This is not your current password." }],
    });
  }

  await attempt.succeeded();
  const warnings = await screenNewPassword(c.get("runtime").config, newPassword, "newPassword");
  const newHash = await hashPassword(newPassword);
  await withStatementTimeout(
    sql,
    sql`
      select latchkey.change_password(
        ${principal.userId}, ${principal.credentialId}, ${newHash}, ${requestJson(sql, request)})`,
  );
  return c.json({ success: true, ...warningsField(warnings) });
});
