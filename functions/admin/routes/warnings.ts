import { adminKeyWarnings } from "../../_shared/identity/static_admin_key.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { expectedSchemaVersion } from "../../_shared/ground/version.ts";
import { adminCredentials } from "../admin_credentials.ts";

interface DeploymentState {
  bootstrap_admin_on_first_password: boolean;
  newest_migration: string | null;
}

/**
 * What an operator should act on, for the console's first page: the health route's admin-key
 * warnings with the keys' names, the bootstrap admin still on the password from the
 * environment, and migrations this release expects that the database has not had.
 */
export const warningsRoute = defineRoute({
  method: "get",
  path: "/warnings",
  summary: "The deployment's warnings (admin keys, bootstrap password, migrations)",
  auth: adminCredentials,
  permission: "users:read",
  responses: {
    200: "`{warnings: [{code, message}]}`; codes: admin_key_never_expires, " +
      "admin_key_expires_soon, admin_key_expired, mfa_required_without_key, " +
      "mfa_required_role_unknown, " +
      "bootstrap_admin_first_password, migrations_pending, migrations_unknown.",
  },
}, async (c) => {
  const { config } = c.get("runtime");
  const listed = config.LATCHKEY_MFA_REQUIRED_ROLES;
  const [[state], known] = await asCaller(c, async (tx) =>
    [
      await tx<DeploymentState[]>`select * from latchkey.deployment_state()`,
      await tx<{ name: string }[]>`select name from latchkey.roles where name = any(${listed})`,
    ] as const);
  const warnings: { code: string; message: string }[] = adminKeyWarnings(
    c.get("runtime").config,
    { withNames: true },
  );
  const unknownRoles = listed.filter((role) => !known.some((row) => row.name === role));
  if (unknownRoles.length) {
    warnings.push({
      code: "mfa_required_role_unknown",
      message: `LATCHKEY_MFA_REQUIRED_ROLES names ${unknownRoles.join(", ")}, which no role ` +
        "is (GET /admin/roles lists them): a misspelt role needs no second factor.",
    });
  }
  if (
    config.LATCHKEY_MFA_REQUIRED_ROLES.length && config.LATCHKEY_IDENTITY === "latchkey" &&
    !config.LATCHKEY_MFA_ENCRYPTION_KEY
  ) {
    warnings.push({
      code: "mfa_required_without_key",
      message: `Sessions of ${config.LATCHKEY_MFA_REQUIRED_ROLES.join(", ")} need a second ` +
        "factor (LATCHKEY_MFA_REQUIRED_ROLES), but LATCHKEY_MFA_ENCRYPTION_KEY is not set, so " +
        "nobody can enrol one: set it (openssl rand -base64 32).",
    });
  }
  if (state?.bootstrap_admin_on_first_password) {
    warnings.push({
      code: "bootstrap_admin_first_password",
      message: "The bootstrap admin still signs in with the password it was created with " +
        "(LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD): sign in, change it, and remove the variable.",
    });
  }
  if (!state?.newest_migration) {
    warnings.push({
      code: "migrations_unknown",
      message: "The database has no migration history (supabase_migrations.schema_migrations): " +
        "apply sql/migrations with `supabase db push` or `deno task db:migrate`.",
    });
  } else if (state.newest_migration < expectedSchemaVersion) {
    warnings.push({
      code: "migrations_pending",
      message: `The database's newest migration is ${state.newest_migration}; this release ` +
        `expects ${expectedSchemaVersion}: run \`supabase db push\` (or \`deno task db:migrate\`).`,
    });
  }
  return c.json({ warnings });
});
