import { z } from "zod";
import { defineRoute } from "../../_shared/api/routes.ts";
import { authenticationOptions, relyingParty } from "../../_shared/factors/passkeys.ts";
import { base64UrlEncode } from "../../_shared/ground/crypto.ts";
import { ApiError } from "../../_shared/ground/errors.ts";
import { issueChallenge, passkeysToCheck } from "../passkey_ceremonies.ts";

export const passkeyAssertionOptionsBody = z.strictObject({
  factorId: z.uuid().optional().describe("Only this passkey; default: every passkey of yours."),
});

export const passkeyAssertionOptionsRoute = defineRoute({
  method: "post",
  path: "/factors/passkey/assertion-options",
  summary: "Begin verifying a passkey: WebAuthn request options for " +
    "`navigator.credentials.get()` (with a session, or sign-in's challenge)",
  auth: ["session", "challenge"],
  beforeRequiredFactor: true,
  ownIdentityOnly: true,
  body: passkeyAssertionOptionsBody,
  responses: {
    200: "`PublicKeyCredentialRequestOptionsJSON` (`{challenge, rpId, timeout, " +
      'allowCredentials, userVerification: "required"}`) and `factors: [{id, name, ' +
      "credentialId}]`, which factor each allowed credential is: send the assertion to " +
      "`POST /auth/factors/:id/verify` as `{assertion}` with the id of the passkey the " +
      "browser answered with. The challenge is kept by the server for five minutes, for " +
      "this session (or challenge) only, and taken by the first assertion, right or wrong.",
    404: "No such passkey of yours (or you have none).",
    501: "`not_configured`: LATCHKEY_WEBAUTHN_RP_ID is not set (outside development and test).",
  },
}, async (c, { body }) => {
  const rp = relyingParty(c.get("runtime").config, c.req.url);
  const passkeys = await passkeysToCheck(c, body.factorId ?? null);
  if (passkeys.length === 0) {
    throw new ApiError("not_found", { message: "No such passkey of yours." });
  }
  const challenge = await issueChallenge(c, "authentication");
  const options = await authenticationOptions(rp, challenge, passkeys);
  return c.json({
    ...options,
    factors: passkeys.map((passkey) => ({
      id: passkey.id,
      name: passkey.name,
      credentialId: base64UrlEncode(passkey.credentialId),
    })),
  });
});
