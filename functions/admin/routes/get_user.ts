import { asCaller } from "../../_shared/http/request.ts";
import {
  adminUserColumns,
  type AdminUserRow,
  adminUserView,
} from "../../_shared/accounts/users.ts";
import { noSuchUser, noSuchUserText, targetUserId } from "../target_user.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { adminCredentials } from "../admin_credentials.ts";

export const getUserRoute = defineRoute({
  method: "get",
  path: "/users/:id",
  summary: "One user, with account state",
  auth: adminCredentials,
  permission: "users:read",
  responses: { 200: "`{user}`.", 404: noSuchUserText },
}, async (c) => {
  const id = targetUserId(c);
  const [row] = await asCaller(
    c,
    (tx) => tx<AdminUserRow[]>`select ${tx(adminUserColumns)} from latchkey.users where id = ${id}`,
  );
  if (!row) throw noSuchUser();
  return c.json({ user: adminUserView(row) });
});
