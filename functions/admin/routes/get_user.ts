import { Hono } from "hono";
import { requirePermission } from "../../_shared/authenticate.ts";
import { type AppEnv, asCaller } from "../../_shared/http.ts";
import { adminUserColumns, type AdminUserRow, adminUserView } from "../../_shared/users.ts";
import { noSuchUser, targetUserId } from "../target_user.ts";

export const getUserRoute = new Hono<AppEnv>().get(
  "/users/:id",
  requirePermission("users:read"),
  async (c) => {
    const id = targetUserId(c);
    const [row] = await asCaller(
      c,
      (tx) =>
        tx<AdminUserRow[]>`select ${tx(adminUserColumns)} from latchkey.users where id = ${id}`,
    );
    if (!row) throw noSuchUser();
    return c.json({ user: adminUserView(row) });
  },
);
