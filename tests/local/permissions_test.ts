import assert from "node:assert/strict";
import { adminPermissions, builtInRoles } from "../../functions/_shared/ground/principal.ts";
import { seededRolePermissions } from "../support/roles.ts";
import { withDatabase } from "../support/http.ts";

// SQL is the source of truth: Latchkey's own permissions as the routes declare them, and the
// built-in roles' seeded sets as the tests expect them, say exactly what the migrations made (the
// team's own permissions, which other tests add and remove, aside).
Deno.test("Latchkey's permissions and the built-in roles' seeded sets mirror the database", async () => {
  const [permissions, grants, roles] = await withDatabase((sql) =>
    Promise.all([
      sql<{ name: string }[]>`
        select name from latchkey.permissions where built_in order by name`,
      sql<{ role: string; permission: string }[]>`
        select g.role, g.permission from latchkey.role_permissions g
        join latchkey.permissions p on p.name = g.permission and p.built_in
        order by g.role, g.permission`,
      sql<{ name: string }[]>`select name from latchkey.roles where built_in order by name`,
    ])
  );
  assert.deepEqual(permissions.map((row) => row.name), [...adminPermissions].sort());
  assert.deepEqual(roles.map((row) => row.name), [...builtInRoles].sort());
  for (const role of builtInRoles) {
    const fromSql = grants.filter((row) => row.role === role).map((row) => row.permission);
    assert.deepEqual([...seededRolePermissions[role]].sort(), fromSql, role);
  }
});
