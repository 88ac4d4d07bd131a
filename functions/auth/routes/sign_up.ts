import { z } from "zod";
import { requestJson, sqlState, withStatementTimeout } from "../../_shared/db/database.ts";
import { ApiError } from "../../_shared/ground/errors.ts";
import { requestInfo, throttleClient } from "../../_shared/http/request.ts";
import { hashPassword } from "../../_shared/passwords/passwords.ts";
import { screenNewPassword, warningsField } from "../../_shared/passwords/breached_passwords.ts";
import {
  emailSchema,
  isReservedEmail,
  nameSchema,
  passwordSchema,
  userProfile,
} from "../../_shared/accounts/users.ts";
import { newSessionGrant, respondWithNewSession, type SessionStartRow } from "../session_grant.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { sendFirstVerificationMailLater } from "../../_shared/accounts/email_verification.ts";

// Strict: a body carrying `role` or `tier` (or anything else) is refused, never honoured.
export const signUpBody = z.strictObject({
  name: nameSchema,
  email: emailSchema,
  password: passwordSchema,
});

export const signUpRoute = defineRoute({
  method: "post",
  path: "/sign-up/email",
  summary: "Create an account and a session",
  auth: [],
  ownIdentityOnly: true,
  body: signUpBody,
  responses: {
    200: "`{user, session}`; the session token is also set as a cookie. With " +
      "LATCHKEY_REQUIRE_EMAIL_VERIFICATION `session` is null: the account gets none (nor keys) " +
      "until its address is proven by the link mailed to it.",
    400: "Invalid body (role and tier are refused).",
    409: "The email cannot be used.",
    429: "Too many sign-ups from this client (LATCHKEY_SIGN_UP_PER_CLIENT_PER_HOUR).",
  },
}, async (c, { body }) => {
  const { sql, config } = c.get("runtime");
  // Per client, before any hash: probing which emails are taken (409) costs the prober.
  const [{ retry_after }] = await withStatementTimeout(
    sql,
    sql<{ retry_after: number }[]>`
      select latchkey.take_client_allowance('sign_up_client', ${throttleClient(c)},
        ${config.LATCHKEY_SIGN_UP_PER_CLIENT_PER_HOUR}, '1 hour') as retry_after`,
  );
  if (retry_after > 0) {
    throw new ApiError("too_many_requests", {
      message: "Too many sign-ups from this client; retry later.",
      headers: { "Retry-After": String(retry_after) },
    });
  }
  const warnings = await screenNewPassword(config, body.password, "password");
  // Hash before touching the accounts, so a taken email answers no faster than a new one.
  const passwordHash = await hashPassword(body.password);
  // The bootstrap admin's email and the service-account domain are reserved for the seed and
  // the bootstrap task: a stranger who signs up first must not end up owning them (and the
  // answer is the one a taken email gets).
  if (isReservedEmail(config, body.email)) throw new ApiError("email_unavailable");
  // Until the address is proven, whoever signed up with it may be anyone: no session then.
  const grant = config.LATCHKEY_REQUIRE_EMAIL_VERIFICATION ? null : newSessionGrant(config);
  let row: SessionStartRow;
  try {
    [row] = await withStatementTimeout(
      sql,
      sql<SessionStartRow[]>`
        select * from latchkey.sign_up(
          ${body.email}, ${body.name}, ${passwordHash},
          decode(${grant?.tokenHashHex ?? null}, 'hex'), ${grant?.expiresAt ?? null},
          ${requestJson(sql, requestInfo(c))})`,
    );
  } catch (error) {
    if (sqlState(error) === "23505") throw new ApiError("email_unavailable");
    throw error;
  }
  // After the answer, not before it: queuing the link is work only a new account gets, and a
  // taken email must answer no faster than a new one.
  sendFirstVerificationMailLater(c.get("runtime"), row.id, row.email);
  const created = { ...row, email_verified_at: null };
  if (!grant) {
    return c.json({ user: userProfile(created), session: null, ...warningsField(warnings) });
  }
  return respondWithNewSession(c, created, grant, warnings);
});
