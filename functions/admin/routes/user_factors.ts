import { asCaller } from "../../_shared/http/request.ts";
import { type FactorRow, factorView } from "../../_shared/factors/factor_view.ts";
import {
  beyondReachText,
  noSuchUser,
  noSuchUserText,
  requireUserExists,
  targetUserId,
  userWithinReach,
} from "../target_user.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { adminCredentials } from "../admin_credentials.ts";

// The admin twins of GET /auth/factors and of removing them (issue 28, item 6): support sees
// who has which factor (and who has none); an admin resets them for someone who lost theirs.
export const listUserFactorsRoute = defineRoute({
  method: "get",
  path: "/users/:id/factors",
  summary: "A user's second factors and how many recovery codes they have left",
  auth: adminCredentials,
  permission: "users:read",
  responses: {
    200: "`{factors: [{id, type, name, confirmed, createdAt, lastUsedAt}], recoveryCodesLeft}` " +
      "(never a secret).",
    404: noSuchUserText,
  },
}, async (c) => {
  const id = targetUserId(c);
  const [factors, [{ left }]] = await asCaller(c, async (tx) => {
    await requireUserExists(tx, id);
    return await Promise.all([
      tx<FactorRow[]>`
        select id, type, name, confirmed_at, created_at, last_used_at
        from latchkey.mfa_factors
        where user_id = ${id}
        order by created_at, id`,
      tx<{ left: number }[]>`
        select count(*)::int as left from latchkey.mfa_recovery_codes
        where user_id = ${id} and used_at is null`,
    ]);
  });
  return c.json({ factors: factors.map(factorView), recoveryCodesLeft: left });
});

interface ResetRow {
  factors_removed: number;
  recovery_codes_removed: number;
  revoked_sessions: number;
}

// Whoever holds the lost factor must not keep a session it raised: the account's sessions
// and sign-in challenges go with the factors (latchkey.reset_user_factors, audited).
export const resetUserFactorsRoute = defineRoute({
  method: "delete",
  path: "/users/:id/factors",
  notifies: true,
  summary: "Reset a user's second factors: every factor and recovery code removed, every " +
    "session revoked",
  auth: adminCredentials,
  permission: "users:write",
  permissionNote: "; the caller must hold every permission of the account's role",
  stepUp: true,
  responses: {
    200: "`{success: true, factorsRemoved, recoveryCodesRemoved, revokedSessions}`. The user " +
      "signs in with the password alone and enrols again.",
    403: beyondReachText,
    404: noSuchUserText,
  },
}, async (c) => {
  const id = targetUserId(c);
  const reset = await asCaller(c, async (tx) => {
    await userWithinReach(c, tx, id, "Resetting second factors");
    const [row] = await tx<ResetRow[]>`select * from latchkey.reset_user_factors(${id})`;
    return row;
  });
  if (!reset) throw noSuchUser();
  return c.json({
    success: true,
    factorsRemoved: reset.factors_removed,
    recoveryCodesRemoved: reset.recovery_codes_removed,
    revokedSessions: reset.revoked_sessions,
  });
});
