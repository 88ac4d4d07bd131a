import { z } from "zod";
import { toHex } from "../../_shared/db/database.ts";
import { ApiError } from "../../_shared/ground/errors.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import {
  encryptTotpSecret,
  maxFactorsPerAccount,
  mfaEncryptionKey,
  newTotpEnrolment,
} from "../../_shared/factors/totp.ts";
import { factorNameSchema } from "../second_factor_codes.ts";
import { requireEnrolmentAllowed } from "../factor_enrolment.ts";

export const enrolTotpFactorBody = z.strictObject({
  name: factorNameSchema.optional(),
});

export const enrolTotpFactorRoute = defineRoute({
  method: "post",
  path: "/factors/totp",
  summary: "Enrol an authenticator app (TOTP); confirm it with a first code",
  auth: ["session"],
  beforeRequiredFactor: true,
  ownIdentityOnly: true,
  body: enrolTotpFactorBody,
  responses: {
    201: "`{id, secret, otpauthUri, qrSvg}`: the secret (base32) and what the app scans, shown " +
      "this once. Unconfirmed until `POST /auth/factors/:id/verify` takes a code of it.",
    403: "`step_up_required`: the account has a confirmed factor and this session has not " +
      "verified one (aal1): a stolen password session must not add its own factor.",
    409: "`factor_limit_reached`: the account holds 10 factors.",
    501: "`not_configured`: LATCHKEY_MFA_ENCRYPTION_KEY is not set.",
  },
}, async (c, { body }) => {
  const { config } = c.get("runtime");
  const key = mfaEncryptionKey(config);
  const principal = c.get("principal");
  await requireEnrolmentAllowed(c);
  const id = crypto.randomUUID();
  const enrolment = newTotpEnrolment(config.LATCHKEY_MFA_ISSUER, principal.user!.email);
  const ciphertext = await encryptTotpSecret(key, id, enrolment.secret);
  const name = body.name ?? "Authenticator app";
  const [{ outcome }] = await asCaller(c, (tx) =>
    tx<{ outcome: "enrolled" | "limit_reached" }[]>`
      select latchkey.enrol_totp_factor(${id}, ${name}, decode(${toHex(ciphertext)}, 'hex'),
        ${maxFactorsPerAccount}) as outcome`);
  if (outcome === "limit_reached") throw new ApiError("factor_limit_reached");
  return c.json({
    id,
    type: "totp",
    name,
    secret: enrolment.base32,
    otpauthUri: enrolment.otpauthUri,
    qrSvg: enrolment.qrSvg,
  }, 201);
});
