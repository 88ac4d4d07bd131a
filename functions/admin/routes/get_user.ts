import { asCaller } from "../../_shared/http/request.ts";
import {
  adminUserColumns,
  type AdminUserRow,
  adminUserView,
} from "../../_shared/accounts/users.ts";
import { noSuchUser, noSuchUserText, targetUserId } from "../target_user.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { adminCredentials } from "../admin_credentials.ts";
import { permissionsOver } from "../../_shared/identity/reach.ts";
import {
  countsSupabaseFactors,
  type SecondFactorRow,
  secondFactorsText,
  secondFactorsView,
  secondFactorTypesColumn,
  withSupabaseFactorTypes,
} from "../second_factor_state.ts";

export const getUserRoute = defineRoute({
  method: "get",
  path: "/users/:id",
  summary: "One user, with account state",
  auth: adminCredentials,
  permission: "users:read",
  responses: {
    200: "`{user, callerMay}`: `callerMay` lists the caller's permissions it may use on this " +
      "account — all of them when it holds every permission of the account's role, else only " +
      "users:read, keys:read and audit:read (the changes would be answered 403). The user's " +
      secondFactorsText,
    404: noSuchUserText,
  },
}, async (c) => {
  const id = targetUserId(c);
  const supabase = countsSupabaseFactors(c);
  const [row] = await asCaller(c, (tx) => {
    const rows = tx<(AdminUserRow & SecondFactorRow)[]>`
      select ${tx(adminUserColumns)}, ${secondFactorTypesColumn(tx, supabase)}
      from latchkey.users where id = ${id}`;
    return supabase
      ? tx<(AdminUserRow & SecondFactorRow)[]>`${withSupabaseFactorTypes(tx, rows)}`
      : rows;
  });
  if (!row) throw noSuchUser();
  const callerMay = permissionsOver(c.get("principal"), {
    name: row.role,
    permissions: row.role_permissions,
  });
  return c.json({
    user: { ...adminUserView(row), secondFactors: secondFactorsView(c, row) },
    callerMay,
  });
});
