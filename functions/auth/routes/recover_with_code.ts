import { z } from "zod";
import { defineRoute } from "../../_shared/api/routes.ts";
import { checkSecondFactorCode } from "../second_factor_codes.ts";
import { completeSignInChallenge, raiseSessionAssurance } from "../session_assurance.ts";

export const recoverWithCodeBody = z.strictObject({
  code: z.string().trim().min(1, "Enter one of your recovery codes.").max(64)
    .meta({ examples: ["abcd-efgh-jkmn-pqrs"] }),
});

export const recoverWithCodeRoute = defineRoute({
  method: "post",
  path: "/factors/recovery",
  summary: "Spend a recovery code: completes a sign-in's challenge, or raises (steps up) the " +
    "session, as a factor's code does",
  auth: ["session", "challenge"],
  beforeRequiredFactor: true,
  ownIdentityOnly: true,
  body: recoverWithCodeBody,
  responses: {
    200: "With sign-in's challenge: `{user, session}`, a new `aal2` session whose `amr` is the " +
      "password and `recovery_code` (the token shown once, also set as the cookie); the code " +
      "and the challenge are spent. With a session: `{session}`, the session now `aal2` with " +
      "`recovery_code` in its `amr`, which counts as a step-up (someone who lost the device " +
      "can still remove its factor); the code is spent.",
    400: "Invalid body; `invalid_factor_code`: not one of the account's unused recovery codes.",
    401: "No credential, or a challenge that has expired or was used already (also when " +
      "another request's code claimed it first: the code given is not spent).",
    429: "Too many wrong codes (they count as failed sign-ins); see Retry-After.",
    501: "`not_configured`: LATCHKEY_MFA_ENCRYPTION_KEY is not set.",
  },
}, async (c, { body }) => {
  const checked = await checkSecondFactorCode(c, null, body.code, { recoveryCodeOnly: true });
  if (c.get("principal").kind === "mfa_challenge") {
    return await completeSignInChallenge(c, checked.method);
  }
  return c.json({ session: await raiseSessionAssurance(c, checked.method) });
});
