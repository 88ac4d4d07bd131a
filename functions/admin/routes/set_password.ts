import { z } from "zod";
import { ApiError } from "../../_shared/ground/errors.ts";
import { respondIdempotently } from "../../_shared/http/idempotency.ts";
import { hashPassword } from "../../_shared/passwords/passwords.ts";
import { screenNewPassword, warningsField } from "../../_shared/passwords/breached_passwords.ts";
import { passwordSchema } from "../../_shared/accounts/users.ts";
import { beyondReachText, noSuchUserText, targetUserId, userWithinReach } from "../target_user.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { adminCredentials } from "../admin_credentials.ts";

export const setPasswordBody = z.strictObject({ newPassword: passwordSchema });

export const setPasswordRoute = defineRoute({
  method: "post",
  path: "/users/:id/password",
  notifies: true,
  idempotent: true,
  summary: "Set a user's password; their sessions are revoked",
  auth: adminCredentials,
  permission: "users:write",
  body: setPasswordBody,
  stepUp: true,
  responses: {
    200: "`{success: true}`.",
    400: "Invalid body, or a service account (which has no password).",
    403: beyondReachText,
    404: noSuchUserText,
  },
}, async (c, { body: { newPassword } }) => {
  const id = targetUserId(c);
  const warnings = await screenNewPassword(c.get("runtime").config, newPassword, "newPassword");
  const passwordHash = await hashPassword(newPassword);
  return await respondIdempotently(c, async (tx) => {
    const user = await userWithinReach(c, tx, id, "Setting a password", { lock: true });
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
    return { status: 200, body: { success: true, ...warningsField(warnings) } };
  });
});
