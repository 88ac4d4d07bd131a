import type { Sql } from "../_shared/db/database.ts";

const migrationsDirectory = new URL("../../sql/migrations/", import.meta.url);
const migrationFile = /^(\d{14})_([a-z0-9_]+)\.sql$/;

export interface Migration {
  version: string;
  name: string;
  statements: string;
}

/** The migrations in `sql/migrations`, in order. */
export async function readMigrations(directory: URL = migrationsDirectory): Promise<Migration[]> {
  const migrations: Migration[] = [];
  for await (const entry of Deno.readDir(directory)) {
    const match = migrationFile.exec(entry.name);
    if (!entry.isFile || !match) continue;
    const statements = await Deno.readTextFile(new URL(entry.name, directory));
    migrations.push({ version: match[1], name: match[2], statements });
  }
  return migrations.sort((a, b) => a.version.localeCompare(b.version));
}

/**
 * Applies pending migrations in one transaction, recording them where the Supabase CLI does
 * (`supabase_migrations.schema_migrations`), so `supabase db push` and this runner agree on
 * what has been applied. An advisory lock makes concurrent starts wait for each other.
 */
export async function applyMigrations(sql: Sql, directory?: URL): Promise<Migration[]> {
  const migrations = await readMigrations(directory);
  await sql.unsafe(`
    create schema if not exists supabase_migrations;
    create table if not exists supabase_migrations.schema_migrations (
      version text primary key, statements text[], name text
    );`);
  const applied = await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext('latchkey.migrations'))`;
    const done = new Set(
      (await tx<{ version: string }[]>`select version from supabase_migrations.schema_migrations`)
        .map((row) => row.version),
    );
    const pending = migrations.filter((migration) => !done.has(migration.version));
    for (const migration of pending) {
      await tx.unsafe(migration.statements);
      await tx`
        insert into supabase_migrations.schema_migrations (version, name, statements)
        values (${migration.version}, ${migration.name}, ${[migration.statements]})`;
    }
    return pending;
  });
  return applied as Migration[];
}

if (import.meta.main) {
  const { runWithDatabase } = await import("./database_target.ts");
  await runWithDatabase("deno task db:migrate", async (sql, target) => {
    const applied = await applyMigrations(sql);
    console.log(
      applied.length
        ? `Applied ${applied.length} migration(s) to ${target.description}: ${
          applied.map((m) => `${m.version}_${m.name}`).join(", ")
        }`
        : `${target.description}: migrations are up to date.`,
    );
  });
}
