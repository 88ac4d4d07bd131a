import { z } from "zod";
import { requestJson, withStatementTimeout } from "../../_shared/db/database.ts";
import { ApiError } from "../../_shared/ground/errors.ts";
import { requestInfo } from "../../_shared/http/request.ts";
import {
  burnPasswordCheck,
  hashPassword,
  passwordLength,
  verifyPassword,
} from "../../_shared/passwords/passwords.ts";
import { emailSchema } from "../../_shared/accounts/users.ts";
import {
  challengeExpiresAt,
  newSessionGrant,
  respondWithNewSession,
  type SessionStartRow,
} from "../session_grant.ts";
import { userProfile } from "../../_shared/accounts/users.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { reserveSignIn } from "../sign_in_throttles.ts";
import { queueVerificationMail } from "../../_shared/accounts/email_verification.ts";

export const signInBody = z.strictObject({
  email: emailSchema,
  // No minimum here: the rule is enforced when a password is set, not when it is tried.
  password: z.string().min(1, "Enter your password.").max(passwordLength.max)
    .meta({ examples: ["correct horse battery staple"] }),
});

export const signInRoute = defineRoute({
  method: "post",
  path: "/sign-in/email",
  summary: "Sign in with email and password",
  auth: [],
  ownIdentityOnly: true,
  body: signInBody,
  responses: {
    200: "`{user, session}` (`session.aal` `aal1`, `amr` the password); sets the session " +
      "cookie. For an account with a confirmed second factor, `{user, challenge: {token, " +
      "expiresAt, factors: [{id, type, name}]}}` and no session: the challenge (five minutes) " +
      "is taken only by `POST /auth/factors/:id/verify` (a code, or a passkey's assertion " +
      "to options from `POST /auth/factors/passkey/assertion-options`) and " +
      "`POST /auth/factors/recovery`, which answer the session.",
    401: "Wrong email or password (the same answer for both).",
    403: "`account_banned`: the account is suspended; `email_not_verified`: " +
      "LATCHKEY_REQUIRE_EMAIL_VERIFICATION is on, the password is right and the address is not " +
      "confirmed (a wrong password answers 401, as for an unknown email).",
    429: "Too many failed sign-ins for this email from this client, from this client across " +
      "emails, or for this email across clients (a ceiling that slows); see Retry-After.",
  },
}, async (c, { body: { email, password } }) => {
  const { sql, config } = c.get("runtime");
  const request = requestJson(sql, requestInfo(c));
  const attempt = await reserveSignIn(c, email);
  const { candidate } = attempt;

  // Unknown emails and accounts without a password pay for one hash too, and get the same
  // answer as a wrong password, so neither timing nor message reveals who has an account.
  if (!candidate.user_id || !candidate.password_hash) {
    await burnPasswordCheck(password);
    await attempt.failed(candidate.user_id ? "no_password" : "unknown_email");
    throw new ApiError("invalid_credentials");
  }
  const check = await verifyPassword(password, candidate.password_hash);
  if (!check.matches) {
    // The same answer as an unknown email, verified address or not: only the password's owner
    // learns that the account exists.
    await attempt.failed("wrong_password");
    throw new ApiError("invalid_credentials");
  }
  const unverified = config.LATCHKEY_REQUIRE_EMAIL_VERIFICATION && !candidate.email_verified;
  if (unverified && !candidate.is_banned) {
    await attempt.succeeded();
    queueVerificationMail(
      c.get("runtime"),
      candidate.user_id,
      email,
      config.LATCHKEY_EMAIL_VERIFICATION_RESENDS_PER_HOUR,
    ).catch(() => {});
    throw new ApiError("email_not_verified");
  }
  if (candidate.is_banned) {
    await attempt.failed("banned");
    throw new ApiError("account_banned");
  }
  await attempt.succeeded();

  const rehashed = check.needsRehash ? await hashPassword(password) : null;
  // One token for either: start_session alone knows (in the same statement) whether the
  // account has a confirmed factor, so an account without one pays no extra round trip.
  const grant = newSessionGrant(config);
  const [row] = await withStatementTimeout(
    sql,
    sql<(SessionStartRow & { purpose: "session" | "mfa_challenge" })[]>`
      select * from latchkey.start_session(
        ${candidate.user_id}, decode(${grant.tokenHashHex}, 'hex'), ${grant.expiresAt},
        ${challengeExpiresAt()}, ${request}, ${rehashed})`,
  );
  // Banned or deleted between the check and now.
  if (!row) throw new ApiError("invalid_credentials");
  if (row.purpose === "session") return respondWithNewSession(c, row, grant);
  const factors = await withStatementTimeout(
    sql,
    sql<{ id: string; type: string; name: string }[]>`
      select id, type, name from latchkey.mfa_factors
      where user_id = ${row.id} and confirmed_at is not null order by created_at, id`,
  );
  return c.json({
    user: userProfile(row),
    challenge: {
      token: grant.token,
      expiresAt: row.session_expires_at.toISOString(),
      factors: factors.map(({ id, type, name }) => ({ id, type, name })),
    },
  });
});
