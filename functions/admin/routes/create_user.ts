import { z } from "zod";
import { sqlState } from "../../_shared/db/database.ts";
import { ApiError } from "../../_shared/ground/errors.ts";
import { respondIdempotently } from "../../_shared/http/idempotency.ts";
import { hashPassword } from "../../_shared/passwords/passwords.ts";
import { screenNewPassword, warningsField } from "../../_shared/passwords/breached_passwords.ts";
import { sendFirstVerificationMail } from "../../_shared/accounts/email_verification.ts";
import {
  adminUserColumns,
  type AdminUserRow,
  adminUserView,
  emailSchema,
  nameSchema,
  passwordSchema,
  serviceAccountDomain,
} from "../../_shared/accounts/users.ts";
import { roleNameSchema, tierSchema } from "../../_shared/ground/fields.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { roleToGive } from "../role_catalogue.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { adminCredentials } from "../admin_credentials.ts";

// Service accounts hold automation's keys, so deleting a person never kills a pipeline's key.
// They have no password and cannot sign in.
export const createUserBody = z.strictObject({
  email: emailSchema,
  name: nameSchema,
  password: passwordSchema.optional(),
  role: roleNameSchema.optional().meta({
    description: "A role of GET /admin/roles (default user).",
    examples: ["support"],
  }),
  tier: tierSchema.optional(),
  serviceAccount: z.boolean().optional(),
}).superRefine((body, context) => {
  if (body.serviceAccount && body.password !== undefined) {
    context.addIssue({
      code: "custom",
      path: ["password"],
      message: "Service accounts have no password.",
    });
  }
  if (!body.serviceAccount && body.password === undefined) {
    context.addIssue({
      code: "custom",
      path: ["password"],
      message: "A person's account needs a password (or set serviceAccount: true).",
    });
  }
});

export const createUserRoute = defineRoute({
  method: "post",
  path: "/users",
  idempotent: true,
  summary: "Create a user or a service account; Idempotency-Key honoured",
  auth: adminCredentials,
  permission: "users:write",
  permissionNote: "and roles:write to give a role, which the caller must itself hold in full",
  body: createUserBody,
  responses: {
    201: "`{user}`.",
    400: "Invalid body, an address in the reserved service-account domain, or no such role.",
    403: "A role without roles:write, or a role holding a permission the caller lacks.",
    409: "The email exists, or Idempotency-Key reused.",
  },
}, async (c, { body }) => {
  const role = body.role ?? "user";
  const principal = c.get("principal");
  if (role !== "user" && !principal.permissions.includes("roles:write")) {
    throw new ApiError("forbidden", {
      message: "Giving a role needs the roles:write permission.",
    });
  }
  // Before the password's hash, which is the expensive part.
  await asCaller(c, (tx) => roleToGive(tx, principal, role, "Creating an account"));
  if (body.email.toLowerCase().endsWith(`@${serviceAccountDomain}`)) {
    throw new ApiError("validation_failed", {
      details: [{
        path: "email",
        message: `Addresses at ${serviceAccountDomain} are reserved for bootstrap service ` +
          "accounts (deno task bootstrap -- --service-account <name>).",
      }],
    });
  }
  const warnings = body.password
    ? await screenNewPassword(c.get("runtime").config, body.password, "password")
    : [];
  const passwordHash = body.password ? await hashPassword(body.password) : null;
  let created: AdminUserRow | undefined;
  try {
    const response = await respondIdempotently(c, async (tx) => {
      const [row] = await tx<AdminUserRow[]>`
          insert into latchkey.users (email, name, password_hash, role, tier, is_service_account)
          values (${body.email}, ${body.name}, ${passwordHash}, ${role}, ${body.tier ?? "free"},
            ${body.serviceAccount ?? false})
          returning ${tx(adminUserColumns)}`;
      await tx`
          select latchkey.record_audit_event('admin.user_created', 'user', ${row.id},
            jsonb_build_object('after', jsonb_build_object('email', ${row.email}::text,
              'role', ${row.role}::text, 'tier', ${row.tier}::text,
              'serviceAccount', ${row.is_service_account}::boolean)))`;
      created = row;
      return { status: 201, body: { user: adminUserView(row), ...warningsField(warnings) } };
    });
    // A person's account gets its verification link once it exists (not on a replay).
    if (created && passwordHash) {
      await sendFirstVerificationMail(c.get("runtime"), created.id, created.email);
    }
    return response;
  } catch (error) {
    if (sqlState(error) === "23505") {
      throw new ApiError("email_unavailable", { message: "A user with this email exists." });
    }
    throw error;
  }
});
