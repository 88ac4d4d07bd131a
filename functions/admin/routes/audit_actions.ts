import { auditActions } from "../../_shared/audit/audit_actions.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { adminCredentials } from "../admin_credentials.ts";

/** The actions the audit log's `action` filter can match, for a filter that suggests them. */
export const auditActionsRoute = defineRoute({
  method: "get",
  path: "/audit/actions",
  summary: "The actions audit events record, each with what it means",
  auth: adminCredentials,
  permission: "audit:read",
  responses: { 200: "`{actions: [{action, description}]}`, sorted by action." },
}, (c) => {
  const actions = Object.keys(auditActions).sort()
    .map((action) => ({ action, description: auditActions[action] }));
  return c.json({ actions });
});
