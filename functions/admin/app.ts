import { functionApp, type FunctionDefinition } from "../_shared/api/routes.ts";
import { keyUsageRoute, rotateKeyRoute, updateKeyRoute } from "./routes/admin_key_lifecycle.ts";
import { createKeyRoute, listKeysRoute, revokeKeyRoute } from "./routes/admin_keys.ts";
import { createUserRoute } from "./routes/create_user.ts";
import { deleteUserRoute } from "./routes/delete_user.ts";
import { getUserRoute } from "./routes/get_user.ts";
import { auditActionsRoute } from "./routes/audit_actions.ts";
import { exportAuditRoute } from "./routes/export_audit.ts";
import { listAuditRoute } from "./routes/list_audit.ts";
import { listUsersRoute } from "./routes/list_users.ts";
import {
  getOrgRoute,
  listOrgsRoute,
  orgMembersRoute,
  updateOrgRoute,
} from "./routes/admin_orgs.ts";
import { setPasswordRoute } from "./routes/set_password.ts";
import { updateUserRoute } from "./routes/update_user.ts";
import { listUserFactorsRoute, resetUserFactorsRoute } from "./routes/user_factors.ts";
import { listUserSessionsRoute, revokeUserSessionsRoute } from "./routes/user_sessions.ts";
import { warningsRoute } from "./routes/warnings.ts";
import {
  listWebhookDeliveriesRoute,
  retryWebhookDeliveryRoute,
  testWebhookRoute,
} from "./routes/webhook_deliveries.ts";
import {
  deleteWebhookRoute,
  rotateWebhookSecretRoute,
  updateWebhookRoute,
} from "./routes/webhook_lifecycle.ts";
import { createWebhookRoute, listWebhooksRoute } from "./routes/webhooks.ts";
import {
  createRoleRoute,
  deleteRoleRoute,
  listRolesRoute,
  updateRoleRoute,
} from "./routes/roles.ts";
import {
  createOrgRoleRoute,
  deleteOrgRoleRoute,
  listOrgRolesRoute,
  updateOrgRoleRoute,
} from "./routes/org_roles.ts";
import {
  createPermissionRoute,
  deletePermissionRoute,
  listPermissionsRoute,
  updatePermissionRoute,
} from "./routes/permissions.ts";

/**
 * Function `admin` (API.md, "Function admin"). Any credential is a principal — a session, an
 * API key whose effective permissions cover the route, or X-Admin-Key — and each route checks
 * one permission: missing credentials are 401, missing permissions 403.
 */
export const adminFunction: FunctionDefinition = {
  name: "admin",
  description:
    "Users, roles and permissions, API keys, sessions, organizations, the audit log and its " +
    "webhooks. Any " +
    "credential works — a " +
    "session, an API key whose scopes cover the route, or the static X-Admin-Key — and each " +
    "route needs one permission (support reads and revokes; admin does everything).",
  routes: [
    listUsersRoute,
    createUserRoute,
    getUserRoute,
    updateUserRoute,
    setPasswordRoute,
    deleteUserRoute,
    listUserSessionsRoute,
    revokeUserSessionsRoute,
    listUserFactorsRoute,
    resetUserFactorsRoute,
    listKeysRoute,
    createKeyRoute,
    updateKeyRoute,
    revokeKeyRoute,
    rotateKeyRoute,
    keyUsageRoute,
    listOrgsRoute,
    getOrgRoute,
    updateOrgRoute,
    orgMembersRoute,
    listRolesRoute,
    createRoleRoute,
    updateRoleRoute,
    deleteRoleRoute,
    listOrgRolesRoute,
    createOrgRoleRoute,
    updateOrgRoleRoute,
    deleteOrgRoleRoute,
    listPermissionsRoute,
    createPermissionRoute,
    updatePermissionRoute,
    deletePermissionRoute,
    exportAuditRoute,
    auditActionsRoute,
    listAuditRoute,
    warningsRoute,
    listWebhooksRoute,
    createWebhookRoute,
    updateWebhookRoute,
    deleteWebhookRoute,
    rotateWebhookSecretRoute,
    retryWebhookDeliveryRoute,
    listWebhookDeliveriesRoute,
    testWebhookRoute,
  ],
};

export const app = functionApp(adminFunction);
