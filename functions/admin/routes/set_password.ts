import { Hono } from "hono";
import { z } from "zod";
import { requirePermission } from "../../_shared/authenticate.ts";
import { ApiError } from "../../_shared/errors.ts";
import { type AppEnv, readJsonBody } from "../../_shared/http.ts";
import { respondIdempotently } from "../../_shared/idempotency.ts";
import { hashPassword } from "../../_shared/passwords.ts";
import { passwordSchema } from "../../_shared/users.ts";
import { noSuchUser, targetUserId } from "../target_user.ts";

export const setPasswordBody = z.strictObject({ newPassword: passwordSchema });

export const setPasswordRoute = new Hono<AppEnv>().post(
  "/users/:id/password",
  requirePermission("users:write"),
  async (c) => {
    const id = targetUserId(c);
    const { newPassword } = await readJsonBody(c, setPasswordBody);
    const passwordHash = await hashPassword(newPassword);
    return await respondIdempotently(c, async (tx) => {
      const [user] = await tx<{ is_service_account: boolean }[]>`
        select is_service_account from latchkey.users where id = ${id} for update`;
      if (!user) throw noSuchUser();
      if (user.is_service_account) {
        throw new ApiError("validation_failed", {
          message: "Service accounts have no password; give them API keys instead.",
          details: [{ path: "newPassword", message: "Service accounts cannot have a password." }],
        });
      }
      await tx`
        update latchkey.users set password_hash = ${passwordHash}, updated_at = now()
        where id = ${id}`;
      const [{ revoked }] = await tx<{ revoked: number }[]>`
        select latchkey.revoke_all_sessions(${id}) as revoked`;
      await tx`
        select latchkey.record_audit_event('admin.password_set', 'user', ${id},
          jsonb_build_object('revokedSessions', ${revoked}::int))`;
      return { status: 200, body: { success: true } };
    });
  },
);
