import { z } from "zod";
import { looksLikeAccountToken, sha256Hex } from "../../_shared/ground/crypto.ts";
import { requestJson, withStatementTimeout } from "../../_shared/db/database.ts";
import { ApiError } from "../../_shared/ground/errors.ts";
import { requestInfo, throttleClient } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { userProfile, type UserRow } from "../../_shared/accounts/users.ts";
import { recoveryThrottled } from "./forgot_password.ts";

export const verifyEmailBody = z.strictObject({
  token: z.string().max(200).meta({ examples: ["<the token from the link's #token=>"] }),
});

const invalidToken = () =>
  new ApiError("invalid_token", {
    message: "This verification link is invalid, used or expired; sign in to get a new one.",
  });

export const verifyEmailRoute = defineRoute({
  method: "post",
  path: "/email/verify",
  summary: "Confirm an email address with a verification link's token",
  auth: [],
  ownIdentityOnly: true,
  body: verifyEmailBody,
  responses: {
    200: "`{user}` with `emailVerifiedAt`.",
    400: "`invalid_token`: unknown, used or expired, or sent to an address the account no " +
      "longer has.",
    429: "Too many recovery requests from this client; see Retry-After.",
  },
}, async (c, { body: { token } }) => {
  const { config, sql } = c.get("runtime");
  if (!looksLikeAccountToken(token)) throw invalidToken();
  const [outcome] = await withStatementTimeout(
    sql,
    sql<{ user_id: string | null; retry_after: number }[]>`
      select * from latchkey.verify_email(decode(${sha256Hex(token)}, 'hex'),
        ${throttleClient(c)}, ${config.LATCHKEY_RECOVERY_PER_CLIENT_PER_HOUR},
        ${requestJson(sql, requestInfo(c))})`,
  );
  if (outcome.retry_after > 0) throw recoveryThrottled(outcome.retry_after);
  if (!outcome.user_id) throw invalidToken();
  const [user] = await withStatementTimeout(
    sql,
    sql<UserRow[]>`
      select id, email, name, role, tier, created_at, email_verified_at
      from latchkey.users where id = ${outcome.user_id}`,
  );
  return c.json({ user: userProfile(user) });
});
