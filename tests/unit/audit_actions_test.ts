import assert from "node:assert/strict";
import { auditActions } from "../../functions/_shared/audit/audit_actions.ts";

/**
 * The catalogue of audit actions is every action the code records, and no other: the SQL
 * functions (schema.sql) and the TypeScript functions are read for quoted action names.
 */

const root = new URL("../../", import.meta.url).pathname;
const catalogue = "functions/_shared/audit/audit_actions.ts";
const actionName =
  /['"`]((?:admin|admin_key|api_key|audit|auth|bootstrap|mail|org|org_role|permission|role|user|webhook)\.[a-z_]+)['"`]/g;

/** Names in the same shape that are not audit actions: a webhook test message's type. */
const notActions = new Set(["webhook.test"]);

function sourceFiles(directory: string): string[] {
  return [...Deno.readDirSync(`${root}${directory}`)].flatMap((entry) => {
    const path = `${directory}/${entry.name}`;
    if (entry.isDirectory) return sourceFiles(path);
    return path.endsWith(".ts") && path !== catalogue ? [path] : [];
  });
}

Deno.test("the audit action catalogue lists exactly the actions the code records", () => {
  const recorded = new Set<string>();
  for (const path of ["sql/schema.sql", ...sourceFiles("functions")]) {
    for (const [, action] of Deno.readTextFileSync(`${root}${path}`).matchAll(actionName)) {
      if (!notActions.has(action)) recorded.add(action);
    }
  }
  assert.ok(recorded.has("admin.user_updated"), "the scan finds actions");
  assert.deepEqual(Object.keys(auditActions).sort(), [...recorded].sort());
});
