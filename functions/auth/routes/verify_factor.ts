import { z } from "zod";
import { pathId } from "../../_shared/http/ids.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { checkSecondFactorCode, noSuchFactor, totpCodeSchema } from "../second_factor_codes.ts";

export const verifyFactorBody = z.strictObject({ code: totpCodeSchema });

export const verifyFactorRoute = defineRoute({
  method: "post",
  path: "/factors/:id/verify",
  summary: "Check a TOTP code of a factor; the first right one confirms it",
  auth: ["session"],
  ownIdentityOnly: true,
  body: verifyFactorBody,
  responses: {
    200: "`{id, confirmed: true, recoveryCodes?}`: `recoveryCodes` (ten, shown this once) " +
      "when this confirmed the factor and the account held no unused recovery codes.",
    400: "Invalid body; `invalid_factor_code`: a wrong code, or one used already (replay).",
    404: "No such factor of yours.",
    429: "Too many wrong codes (they count as failed sign-ins); see Retry-After.",
    501: "`not_configured`: LATCHKEY_MFA_ENCRYPTION_KEY is not set.",
  },
}, async (c, { body }) => {
  const id = pathId(c.req.param("id"), noSuchFactor);
  const checked = await checkSecondFactorCode(c, id, body.code);
  return c.json({
    id,
    confirmed: true,
    ...(checked.recoveryCodes ? { recoveryCodes: checked.recoveryCodes } : {}),
  });
});
