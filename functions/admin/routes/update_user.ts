import { z } from "zod";
import { ApiError } from "../../_shared/ground/errors.ts";
import { asCaller } from "../../_shared/http/request.ts";
import {
  adminUserColumns,
  type AdminUserRow,
  adminUserView,
  nameSchema,
} from "../../_shared/accounts/users.ts";
import { noSuchUserText, targetUserId, userWithinReach } from "../target_user.ts";
import { roleNameSchema, tierSchema } from "../../_shared/ground/fields.ts";
import { roleToGive } from "../role_catalogue.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { adminCredentials } from "../admin_credentials.ts";
import { stepUpWhen } from "../../_shared/http/openapi.ts";

export const updateUserBody = z.strictObject({
  name: nameSchema.optional(),
  role: roleNameSchema.optional().meta({
    description: "A role of GET /admin/roles, built in or the team's.",
    examples: ["support"],
  }),
  tier: tierSchema.optional(),
  banned: z.boolean().optional(),
  banReason: z.string().trim().min(1).max(500).optional(),
  credits: z.number().int().min(0).max(1_000_000_000).nullable().optional().meta({
    description: "The account's budget of verifications: every key of the account (its own " +
      "self-service keys too) draws one per VALID verification; null removes it.",
  }),
}).refine((body) => Object.keys(body).length > 0, { message: "Change at least one field." })
  .refine((body) => body.banReason === undefined || body.banned === true, {
    path: ["banReason"],
    message: "A ban reason goes with banned: true.",
  });

function auditState(row: AdminUserRow) {
  return {
    name: row.name,
    role: row.role,
    tier: row.tier,
    banned: row.banned_at !== null,
    credits: row.credits,
  };
}

// Banning revokes the user's sessions and makes their keys answer OWNER_BANNED at once
// (checked on every request); unbanning brings the keys back. Sessions stay revoked.
export const updateUserRoute = defineRoute({
  method: "patch",
  path: "/users/:id",
  notifies: true,
  summary: "Change name, role, tier, ban or the account's credits",
  auth: adminCredentials,
  permission: "users:write",
  permissionNote: "and roles:write to change a role; the caller must hold every permission of " +
    "the account's role, and of a role it gives",
  body: updateUserBody,
  stepUp: stepUpWhen(updateUserBody, "the body changes `role`", (body) => body.role !== undefined, {
    role: "user",
  }),
  responses: {
    200: "`{user}`. A new role counts from the account's next request: its sessions and keys " +
      "carry the role's permissions as they are then.",
    400: "Invalid body, or no such role.",
    403: "A role change without roles:write, or an account or role beyond the caller's reach.",
    404: noSuchUserText,
    409: "The last active admin cannot be demoted or banned.",
  },
}, async (c, { body }) => {
  const id = targetUserId(c);
  const principal = c.get("principal");
  if (body.role !== undefined && !principal.permissions.includes("roles:write")) {
    throw new ApiError("forbidden", {
      message: "Changing a role needs the roles:write permission.",
    });
  }
  const updated = await asCaller(c, async (tx) => {
    // Nor may a caller make anyone more than itself.
    if (body.role) await roleToGive(tx, principal, body.role, "Giving a role");
    const before = await userWithinReach(c, tx, id, "Changing an account", { lock: true });
    const banning = body.banned === true && before.banned_at === null;
    const [after] = await tx<AdminUserRow[]>`
        update latchkey.users set
          name = ${body.name ?? before.name},
          role = ${body.role ?? before.role},
          tier = ${body.tier ?? before.tier},
          credits = ${body.credits === undefined ? before.credits : body.credits},
          banned_at = ${
      body.banned === undefined
        ? before.banned_at
        : body.banned
        ? before.banned_at ?? new Date()
        : null
    },
          ban_reason = ${body.banned === false ? null : body.banReason ?? before.ban_reason},
          updated_at = now()
        where id = ${id}
        returning ${tx(adminUserColumns)}`;
    const revokedSessions = banning
      ? (await tx<{ revoked: number }[]>`
            select latchkey.revoke_all_sessions(${id}) as revoked`)[0].revoked
      : 0;
    await tx`
        select latchkey.record_audit_event('admin.user_updated', 'user', ${id},
          jsonb_build_object('before', ${tx.json(auditState(before))}::jsonb,
            'after', ${tx.json(auditState(after))}::jsonb,
            'revokedSessions', ${revokedSessions}::int))`;
    return after;
  });
  return c.json({ user: adminUserView(updated) });
});
