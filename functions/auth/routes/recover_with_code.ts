import { z } from "zod";
import { defineRoute } from "../../_shared/api/routes.ts";
import { checkSecondFactorCode } from "../second_factor_codes.ts";
import { completeSignInChallenge } from "../session_assurance.ts";

export const recoverWithCodeBody = z.strictObject({
  code: z.string().trim().min(1, "Enter one of your recovery codes.").max(64)
    .meta({ examples: ["abcd-efgh-jkmn-pqrs"] }),
});

export const recoverWithCodeRoute = defineRoute({
  method: "post",
  path: "/factors/recovery",
  summary: "Complete a sign-in's challenge with a recovery code (the code is spent)",
  auth: ["challenge"],
  ownIdentityOnly: true,
  body: recoverWithCodeBody,
  responses: {
    200: "`{user, session}`: a new `aal2` session whose `amr` is the password and " +
      "`recovery_code` (the token shown once, also set as the cookie); the code and the " +
      "challenge are spent.",
    400: "Invalid body; `invalid_factor_code`: not one of the account's unused recovery codes.",
    401: "Not a sign-in's challenge, or one that has expired or was used already (also when " +
      "another request's code claimed it first: the code given is not spent).",
    429: "Too many wrong codes (they count as failed sign-ins); see Retry-After.",
    501: "`not_configured`: LATCHKEY_MFA_ENCRYPTION_KEY is not set.",
  },
}, async (c, { body }) => {
  const checked = await checkSecondFactorCode(c, null, body.code, { recoveryCodeOnly: true });
  return await completeSignInChallenge(c, checked.method);
});
