import { z } from "zod";
import { defineRoute } from "../../_shared/api/routes.ts";
import { maxFactorsPerAccount } from "../../_shared/factors/totp.ts";
import { registrationOptions, relyingParty } from "../../_shared/factors/passkeys.ts";
import { ApiError } from "../../_shared/ground/errors.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { requireEnrolmentAllowed } from "../factor_enrolment.ts";
import { issueChallenge, passkeysToCheck } from "../passkey_ceremonies.ts";
import { factorNameSchema } from "../second_factor_codes.ts";

export const passkeyRegistrationOptionsBody = z.strictObject({
  name: factorNameSchema.optional(),
});

export const passkeyRegistrationOptionsRoute = defineRoute({
  method: "post",
  path: "/factors/passkey/options",
  summary: "Begin registering a passkey: WebAuthn creation options for " +
    "`navigator.credentials.create()`",
  auth: ["session"],
  beforeRequiredFactor: true,
  ownIdentityOnly: true,
  body: passkeyRegistrationOptionsBody,
  responses: {
    200: "`PublicKeyCredentialCreationOptionsJSON` (`{rp, user, challenge, pubKeyCredParams, " +
      "timeout, excludeCredentials, authenticatorSelection, attestation}`): user verification " +
      "required, a discoverable credential (resident key) preferred, the account's passkeys " +
      "excluded, no attestation asked. The challenge is kept by the server for five minutes, " +
      "for this session only, and taken once by `POST /auth/factors/passkey`, which gives the " +
      'passkey `name` (default "Passkey").',
    403: "`step_up_required`: the account has a confirmed factor and this session has not " +
      "verified one (aal1).",
    409: "`factor_limit_reached`: the account holds 10 factors.",
    501: "`not_configured`: LATCHKEY_WEBAUTHN_RP_ID is not set (outside development and test).",
  },
}, async (c, { body }) => {
  const rp = relyingParty(c.get("runtime").config, c.req.url);
  await requireEnrolmentAllowed(c);
  const principal = c.get("principal");
  const [{ factors }] = await asCaller(c, (tx) =>
    tx<{ factors: number }[]>`
      select count(*)::int as factors from latchkey.mfa_factors
      where user_id = ${principal.userId}`);
  if (factors >= maxFactorsPerAccount) throw new ApiError("factor_limit_reached");
  const existing = await passkeysToCheck(c);
  const challenge = await issueChallenge(c, "registration", body.name ?? "Passkey");
  const user = principal.user!;
  return c.json(
    await registrationOptions(
      rp,
      { id: principal.userId!, email: user.email, name: user.name },
      challenge,
      existing,
    ),
  );
});
