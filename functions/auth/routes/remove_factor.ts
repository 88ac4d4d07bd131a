import { ApiError } from "../../_shared/ground/errors.ts";
import { pathId } from "../../_shared/http/ids.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { requireSteppedUp } from "../../_shared/identity/step_up.ts";
import { noSuchFactor } from "../second_factor_codes.ts";

export const removeFactorRoute = defineRoute({
  method: "delete",
  path: "/factors/:id",
  notifies: true,
  summary: "Remove one of the caller's factors (a confirmed one needs a step-up)",
  auth: ["session"],
  ownIdentityOnly: true,
  // Checked here once the factor is found, and by the database (latchkey.guard_factor_step_up).
  stepUp: { when: "the factor is confirmed" },
  permissionNote: "An unconfirmed factor goes freely. Removing the last confirmed factor drops " +
    "the recovery codes.",
  responses: {
    204: "Removed.",
    404: "No such factor of yours.",
  },
}, async (c) => {
  const id = pathId(c.req.param("id"), noSuchFactor);
  const [factor] = await asCaller(c, (tx) =>
    tx<{ confirmed: boolean }[]>`
      select confirmed_at is not null as confirmed from latchkey.mfa_factors
      where id = ${id} and user_id = ${c.get("principal").userId}`);
  if (!factor) throw new ApiError("not_found", { message: noSuchFactor });
  if (factor.confirmed) requireSteppedUp(c);
  const [{ removed }] = await asCaller(
    c,
    (tx) => tx<{ removed: boolean }[]>`select latchkey.remove_factor(${id}) as removed`,
  );
  if (!removed) throw new ApiError("not_found", { message: noSuchFactor });
  return c.body(null, 204);
});
