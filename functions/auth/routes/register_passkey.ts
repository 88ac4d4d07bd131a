import { defineRoute } from "../../_shared/api/routes.ts";
import { toHex } from "../../_shared/db/database.ts";
import {
  maxFactorsPerAccount,
  newRecoveryCodes,
  recoveryCodeHashHex,
} from "../../_shared/factors/totp.ts";
import {
  checkRegistration,
  registrationResponseSchema,
  relyingParty,
} from "../../_shared/factors/passkeys.ts";
import { ApiError } from "../../_shared/ground/errors.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { requireEnrolmentAllowed } from "../factor_enrolment.ts";
import {
  auditRefusal,
  challengeNotFound,
  passkeyRefused,
  spendChallenge,
} from "../passkey_ceremonies.ts";
import { raiseSessionAssurance } from "../session_assurance.ts";

interface Registered {
  outcome: "registered" | "limit_reached" | "duplicate";
  recovery_codes_issued: boolean;
}

export const registerPasskeyRoute = defineRoute({
  method: "post",
  path: "/factors/passkey",
  notifies: true,
  summary: "Finish registering a passkey with the authenticator's response; raises the " +
    "session to aal2",
  auth: ["session"],
  beforeRequiredFactor: true,
  ownIdentityOnly: true,
  body: registrationResponseSchema,
  responses: {
    201: '`{id, type: "passkey", name, confirmed: true, recoveryCodes?, session}`: the ' +
      "passkey, confirmed by its registration (the authenticator verified the user); the " +
      "session now `aal2` with `webauthn` in its `amr`; `recoveryCodes` (ten, shown this " +
      "once) when the account held no unused ones.",
    400: "Invalid body; `invalid_passkey`: not to a live challenge of this session from " +
      "`POST /auth/factors/passkey/options` (each is taken once, right or wrong), another " +
      "origin or relying party, no user verification, a bad attestation, or a passkey " +
      "registered already (details say which; audited).",
    403: "`step_up_required`: the account has a confirmed factor and this session has not " +
      "verified one (aal1).",
    409: "`factor_limit_reached`: the account holds 10 factors.",
    501: "`not_configured`: LATCHKEY_WEBAUTHN_RP_ID is not set (outside development and test).",
  },
}, async (c, { body }) => {
  const rp = relyingParty(c.get("runtime").config, c.req.url);
  await requireEnrolmentAllowed(c);
  const spent = await spendChallenge(c, "registration", body.response.clientDataJSON);
  if (!spent) {
    await auditRefusal(c, "registration", challengeNotFound.reason);
    throw passkeyRefused(challengeNotFound);
  }
  const checked = await checkRegistration(rp, body, spent.challenge);
  if (!checked.ok) {
    await auditRefusal(c, "registration", checked.reason);
    throw passkeyRefused(checked);
  }
  const id = crypto.randomUUID();
  const name = spent.factorName ?? "Passkey";
  const recoveryCodes = newRecoveryCodes();
  const hashes = recoveryCodes.map(recoveryCodeHashHex);
  const transports = body.response.transports ?? null;
  const [registered] = await asCaller(c, (tx) =>
    tx<Registered[]>`
      select * from latchkey.register_passkey(${id}, ${name},
        decode(${toHex(checked.credentialId)}, 'hex'), decode(${toHex(checked.publicKey)}, 'hex'),
        ${checked.signCount}, ${transports}::text[], ${checked.aaguid}::uuid,
        ${checked.backupEligible}, ${checked.backedUp}, ${maxFactorsPerAccount},
        array(select decode(h, 'hex') from unnest(${hashes}::text[]) h))`);
  if (registered.outcome === "limit_reached") throw new ApiError("factor_limit_reached");
  if (registered.outcome === "duplicate") {
    throw passkeyRefused({ message: "This passkey is registered already." });
  }
  const session = await raiseSessionAssurance(c, "webauthn");
  return c.json({
    id,
    type: "passkey",
    name,
    confirmed: true,
    ...(registered.recovery_codes_issued ? { recoveryCodes } : {}),
    session,
  }, 201);
});
