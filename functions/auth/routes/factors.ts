import { asCaller } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { type FactorRow, factorView } from "../second_factor_codes.ts";

export const factorsRoute = defineRoute({
  method: "get",
  path: "/factors",
  summary: "The caller's second factors and how many recovery codes are left",
  auth: ["session"],
  beforeRequiredFactor: true,
  ownIdentityOnly: true,
  responses: {
    200: "`{factors: [{id, type, name, confirmed, createdAt, lastUsedAt}], recoveryCodesLeft}` " +
      "(never a secret).",
  },
}, async (c) => {
  const principal = c.get("principal");
  const [factors, [{ left }]] = await asCaller(c, (tx) =>
    Promise.all([
      tx<FactorRow[]>`
        select id, type, name, confirmed_at, created_at, last_used_at
        from latchkey.mfa_factors
        where user_id = ${principal.userId}
        order by created_at, id`,
      tx<{ left: number }[]>`
        select count(*)::int as left from latchkey.mfa_recovery_codes
        where user_id = ${principal.userId} and used_at is null`,
    ]));
  return c.json({ factors: factors.map(factorView), recoveryCodesLeft: left });
});
