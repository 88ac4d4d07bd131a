import assert from "node:assert/strict";
import { rolePermissions, roles } from "../../functions/_shared/ground/principal.ts";
import { withDatabase } from "../support/http.ts";

// SQL is the source of truth; the TypeScript mirror must say exactly the same.
Deno.test("the TypeScript role table mirrors latchkey.role_permissions exactly", async () => {
  const rows = await withDatabase((sql) =>
    sql<{ role: string; permission: string }[]>`
      select role, permission from latchkey.role_permissions order by role, permission`
  );
  for (const role of roles) {
    const fromSql = rows.filter((row) => row.role === role).map((row) => row.permission);
    assert.deepEqual([...rolePermissions[role]].sort(), fromSql, role);
  }
});
