import { z } from "zod";
import { pathId } from "../../_shared/http/ids.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { checkSecondFactorCode, noSuchFactor, totpCodeSchema } from "../second_factor_codes.ts";
import { completeSignInChallenge, raiseSessionAssurance } from "../session_assurance.ts";

export const verifyFactorBody = z.strictObject({ code: totpCodeSchema });

export const verifyFactorRoute = defineRoute({
  method: "post",
  path: "/factors/:id/verify",
  summary: "Check a TOTP code of a factor: completes a sign-in's challenge, or raises the " +
    "session to aal2 (the first right code also confirms the factor)",
  auth: ["session", "challenge"],
  beforeRequiredFactor: true,
  ownIdentityOnly: true,
  body: verifyFactorBody,
  responses: {
    200: "With a session: `{id, confirmed: true, recoveryCodes?, session}`, the session now " +
      "`aal2` with `totp` in its `amr`; `recoveryCodes` (ten, shown this once) when this " +
      "confirmed the factor and the account held no unused recovery codes. With sign-in's " +
      "challenge (a confirmed factor only): `{user, session}`, a new `aal2` session whose " +
      "`amr` is the password and `totp` (the token shown once, also set as the cookie); the " +
      "challenge is spent.",
    400: "Invalid body; `invalid_factor_code`: a wrong code, or one used already (replay).",
    401: "No credential, or a challenge that has expired or was used already (also when " +
      "another request's code claimed it first: requests racing with one challenge spend one " +
      "code).",
    404: "No such factor of yours (with a challenge: no such confirmed factor).",
    429: "Too many wrong codes: they count as failed sign-ins, and against the account's " +
      "LATCHKEY_TOTP_FAILURES_PER_DAY from all clients; see Retry-After.",
    501: "`not_configured`: LATCHKEY_MFA_ENCRYPTION_KEY is not set.",
  },
}, async (c, { body }) => {
  const id = pathId(c.req.param("id"), noSuchFactor);
  const challenge = c.get("principal").kind === "mfa_challenge";
  const checked = await checkSecondFactorCode(c, id, body.code, { confirmedOnly: challenge });
  if (challenge) return await completeSignInChallenge(c, checked.method);
  const session = await raiseSessionAssurance(c, checked.method);
  return c.json({
    id,
    confirmed: true,
    ...(checked.recoveryCodes ? { recoveryCodes: checked.recoveryCodes } : {}),
    session,
  });
});
