import { auditActions } from "../audit/audit_actions.ts";

/**
 * What an endpoint may subscribe to: an audit action by name (GET /admin/audit/actions lists
 * them), every action under a prefix (`auth.*`, `admin.*`), or everything (`*`). Matched in SQL
 * by latchkey.webhook_wants, in the transaction that writes the event.
 */
export function eventPatternProblem(pattern: string): string | null {
  if (pattern === "*" || pattern in auditActions) return null;
  if (pattern.endsWith(".*")) {
    const prefix = pattern.slice(0, -1);
    if (Object.keys(auditActions).some((action) => action.startsWith(prefix))) return null;
    return `No audit action starts with ${prefix} (GET /admin/audit/actions lists them).`;
  }
  return "Not an audit action (GET /admin/audit/actions lists them), a prefix such as auth.* " +
    "or *.";
}
