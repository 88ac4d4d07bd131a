import assert from "node:assert/strict";
import { applyMigrations, readMigrations } from "../../functions/_local/migrate.ts";
import { withDatabase } from "../support/http.ts";

Deno.test("migrations are ordered, recorded, and a second run applies nothing", async () => {
  const migrations = await readMigrations();
  assert.ok(migrations.length >= 4);
  const versions = migrations.map((migration) => migration.version);
  assert.deepEqual(versions, [...versions].sort());
  await withDatabase(async (sql) => {
    assert.deepEqual(await applyMigrations(sql), []);
    const recorded = await sql<{ version: string }[]>`
      select version from supabase_migrations.schema_migrations order by version`;
    assert.deepEqual(recorded.map((row) => row.version), versions);
  });
});

Deno.test("every migration can run again on a migrated database without error", async () => {
  const migrations = await readMigrations();
  await withDatabase(async (sql) => {
    await sql.begin(async (tx) => {
      for (const migration of migrations) await tx.unsafe(migration.statements);
      await tx`select set_config('latchkey.test_rollback', 'yes', true)`;
      throw new Rollback();
    }).catch((error) => {
      if (!(error instanceof Rollback)) throw error;
    });
  });
});

class Rollback extends Error {}
