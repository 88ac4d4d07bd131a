import { z } from "zod";
import { pathId } from "../../_shared/http/ids.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { authenticationResponseSchema } from "../../_shared/factors/passkeys.ts";
import { checkSecondFactorCode, noSuchFactor, totpCodeSchema } from "../second_factor_codes.ts";
import { checkPasskeyAssertion } from "../passkey_ceremonies.ts";
import {
  completeSignInChallenge,
  raiseSessionAssurance,
  type SecondFactorMethod,
} from "../session_assurance.ts";

export const verifyFactorBody = z.union([
  z.strictObject({ code: totpCodeSchema }),
  z.strictObject({ assertion: authenticationResponseSchema }),
]);

export const verifyFactorRoute = defineRoute({
  method: "post",
  path: "/factors/:id/verify",
  notifies: true,
  summary: "Check a factor: a TOTP code (`{code}`) or a passkey's assertion (`{assertion}`); " +
    "completes a sign-in's challenge, or raises the session to aal2 (a TOTP factor's first " +
    "right code also confirms it)",
  auth: ["session", "challenge"],
  beforeRequiredFactor: true,
  ownIdentityOnly: true,
  body: verifyFactorBody,
  responses: {
    200: "With a session: `{id, confirmed: true, recoveryCodes?, session}`, the session now " +
      "`aal2` with `totp` (or `webauthn`, for a passkey) in its `amr`; `recoveryCodes` (ten, " +
      "shown this once) when this confirmed a TOTP factor and the account held no unused " +
      "recovery codes. With sign-in's challenge (a confirmed factor only): `{user, session}`, " +
      "a new `aal2` session whose `amr` is the password and `totp` or `webauthn` (the token " +
      "shown once, also set as the cookie); the challenge is spent. An assertion answers " +
      "options from `POST /auth/factors/passkey/assertion-options` asked with the same " +
      "session or challenge.",
    400: "Invalid body; `invalid_factor_code`: a wrong code, or one used already (replay); " +
      "`invalid_passkey`: an assertion by another credential, not to a live challenge of " +
      "this caller's, from another origin or relying party, without user verification, with " +
      "a bad signature, or whose signature counter did not increase (a cloned authenticator).",
    401: "No credential, or a challenge that has expired or was used already (also when " +
      "another request's factor claimed it first: requests racing with one challenge spend " +
      "one code, or take one counter of a passkey).",
    404: "No such factor of yours (with a challenge: no such confirmed factor; with an " +
      "assertion: no such passkey).",
    429: "Too many wrong codes or refused assertions: they count as failed sign-ins, and wrong " +
      "TOTP codes against the account's LATCHKEY_TOTP_FAILURES_PER_DAY from all clients; see " +
      "Retry-After.",
    501: "`not_configured`: LATCHKEY_MFA_ENCRYPTION_KEY (codes) or LATCHKEY_WEBAUTHN_RP_ID " +
      "(passkeys) is not set.",
  },
}, async (c, { body }) => {
  const id = pathId(c.req.param("id"), noSuchFactor);
  const challenge = c.get("principal").kind === "mfa_challenge";
  let method: SecondFactorMethod = "webauthn";
  let recoveryCodes: string[] | undefined;
  if ("assertion" in body) {
    await checkPasskeyAssertion(c, id, body.assertion);
  } else {
    const checked = await checkSecondFactorCode(c, id, body.code, { confirmedOnly: challenge });
    method = checked.method;
    recoveryCodes = checked.recoveryCodes;
  }
  if (challenge) return await completeSignInChallenge(c, method);
  const session = await raiseSessionAssurance(c, method);
  return c.json({
    id,
    confirmed: true,
    ...(recoveryCodes ? { recoveryCodes } : {}),
    session,
  });
});
