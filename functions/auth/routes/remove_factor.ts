import { z } from "zod";
import { ApiError } from "../../_shared/ground/errors.ts";
import { pathId } from "../../_shared/http/ids.ts";
import { asCaller, readJsonBody } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { checkSecondFactorCode, noSuchFactor } from "../second_factor_codes.ts";

/** A TOTP code of any confirmed factor, or an unused recovery code. */
export const removeConfirmedFactorBody = z.strictObject({
  code: z.string().trim().min(1, "Enter a code from an authenticator app or a recovery code.")
    .max(64).meta({ examples: ["123456"] }),
});

export const removeFactorRoute = defineRoute({
  method: "delete",
  path: "/factors/:id",
  summary: "Remove one of the caller's factors (a confirmed one needs a fresh second factor)",
  auth: ["session"],
  ownIdentityOnly: true,
  // The body is read only for a confirmed factor, so it is not declared: an unconfirmed factor
  // goes with no body at all. Step-up (issue 28) will replace the code in the body.
  permissionNote: "An unconfirmed factor goes freely. A confirmed one needs the JSON body " +
    "`{code}`: a current code of one of the caller's confirmed TOTP factors, or an unused " +
    "recovery code (spent by this). Removing the last confirmed factor drops the recovery codes.",
  responses: {
    204: "Removed.",
    400: "A confirmed factor without `{code}`, or `invalid_factor_code`.",
    404: "No such factor of yours.",
    429: "Too many wrong codes (they count as failed sign-ins); see Retry-After.",
  },
}, async (c) => {
  const id = pathId(c.req.param("id"), noSuchFactor);
  const [factor] = await asCaller(c, (tx) =>
    tx<{ confirmed: boolean }[]>`
      select confirmed_at is not null as confirmed from latchkey.mfa_factors
      where id = ${id} and user_id = ${c.get("principal").userId}`);
  if (!factor) throw new ApiError("not_found", { message: noSuchFactor });
  if (factor.confirmed) {
    const { code } = await readJsonBody(c, removeConfirmedFactorBody);
    await checkSecondFactorCode(c, null, code);
  }
  const [{ removed }] = await asCaller(
    c,
    (tx) => tx<{ removed: boolean }[]>`select latchkey.remove_factor(${id}) as removed`,
  );
  if (!removed) throw new ApiError("not_found", { message: noSuchFactor });
  return c.body(null, 204);
});
