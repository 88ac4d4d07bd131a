import { z } from "zod";
import { ApiError } from "../../_shared/ground/errors.ts";
import { pathId } from "../../_shared/http/ids.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import {
  factorColumns,
  factorNameSchema,
  type FactorRow,
  factorView,
  noSuchFactor,
} from "../second_factor_codes.ts";

export const renameFactorBody = z.strictObject({ name: factorNameSchema });

export const renameFactorRoute = defineRoute({
  method: "patch",
  path: "/factors/:id",
  summary: "Rename one of the caller's factors",
  auth: ["session"],
  ownIdentityOnly: true,
  body: renameFactorBody,
  responses: { 200: "The factor.", 404: "No such factor of yours." },
}, async (c, { body }) => {
  const id = pathId(c.req.param("id"), noSuchFactor);
  const principal = c.get("principal");
  const [row] = await asCaller(c, async (tx) => {
    const rows = await tx<FactorRow[]>`
      update latchkey.mfa_factors set name = ${body.name}
      where id = ${id} and user_id = ${principal.userId}
      returning ${tx(factorColumns)}`;
    if (rows.length) {
      await tx`select latchkey.record_audit_event('auth.factor_renamed', 'factor', ${id},
        jsonb_build_object('name', ${body.name}::text))`;
    }
    return rows;
  });
  if (!row) throw new ApiError("not_found", { message: noSuchFactor });
  return c.json(factorView(row));
});
