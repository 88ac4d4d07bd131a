import { z } from "zod";
import { looksLikeAccountToken, sha256Hex } from "../../_shared/ground/crypto.ts";
import { requestJson, withStatementTimeout } from "../../_shared/db/database.ts";
import { ApiError } from "../../_shared/ground/errors.ts";
import { requestInfo, throttleClient } from "../../_shared/http/request.ts";
import { hashPassword } from "../../_shared/passwords/passwords.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { passwordSchema } from "../../_shared/accounts/users.ts";
import { recoveryThrottled } from "./forgot_password.ts";
import { screenNewPassword, warningsField } from "../../_shared/passwords/breached_passwords.ts";

export const resetPasswordBody = z.strictObject({
  token: z.string().max(200).meta({ examples: ["<the token from the link's #token=>"] }),
  newPassword: passwordSchema,
});

const invalidToken = () =>
  new ApiError("invalid_token", {
    message: "This reset link is invalid, used or expired; ask for a new one.",
  });

export const resetPasswordRoute = defineRoute({
  method: "post",
  path: "/password/reset",
  notifies: true,
  summary: "Set a new password with a reset link's token (every session is signed out)",
  auth: [],
  ownIdentityOnly: true,
  body: resetPasswordBody,
  responses: {
    200: "`{success: true}`: the password is set; every session of the account is revoked (and, " +
      "when this first proves the address, every API key and pending link too).",
    400: "`invalid_token`: unknown, used or expired; or the new password breaks the rules.",
    429: "Too many recovery requests from this client; see Retry-After.",
  },
}, async (c, { body: { token, newPassword } }) => {
  const { config, sql } = c.get("runtime");
  if (!looksLikeAccountToken(token)) throw invalidToken();
  // The client's allowance first: a throttled client makes no breach lookup and no hash.
  const [{ retry_after }] = await withStatementTimeout(
    sql,
    sql<{ retry_after: number }[]>`
      select latchkey.take_client_allowance('recovery_client', ${throttleClient(c)},
        ${config.LATCHKEY_RECOVERY_PER_CLIENT_PER_HOUR}, '1 hour') as retry_after`,
  );
  if (retry_after > 0) throw recoveryThrottled(retry_after);
  const warnings = await screenNewPassword(config, newPassword, "newPassword");
  const passwordHash = await hashPassword(newPassword);
  const [outcome] = await withStatementTimeout(
    sql,
    sql<{ user_id: string | null }[]>`
      select * from latchkey.reset_password(decode(${sha256Hex(token)}, 'hex'), ${passwordHash},
        ${requestJson(sql, requestInfo(c))})`,
  );
  if (!outcome.user_id) throw invalidToken();
  return c.json({ success: true, ...warningsField(warnings) });
});
