import assert from "node:assert/strict";
import postgres from "postgres";
import { applyMigrations, readMigrations } from "../../functions/_local/migrate.ts";
import { expectedSchemaVersion } from "../../functions/_shared/ground/version.ts";
import { withDatabase } from "../support/http.ts";

Deno.test("the code expects the newest migration in sql/migrations (GET /admin/warnings)", async () => {
  const migrations = await readMigrations();
  assert.equal(expectedSchemaVersion, migrations.at(-1)!.version);
});

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
      // A deployed database holds rows of what the newest migrations allow: an older migration
      // run again must not choke on them (a notification's mail, a kind added last).
      await tx`
        insert into latchkey.mail_outbox (kind, recipient, subject)
        values ('key_created', 'rerun@example.test', 'A new API key'),
          ('org_role_changed', 'rerun@example.test', 'Your role changed')`;
      // An organization's key: no user.
      await tx`
        with org as (
          insert into latchkey.organizations (name, slug, key_permissions)
          values ('Rerun', 'rerun-migrations', '{compile}') returning id
        )
        insert into latchkey.api_keys (org_id, name, key_prefix, key_hash)
        select id, 'rerun', 'lk_rerunreru', sha256('rerun-org-key') from org`;
      for (const migration of migrations) await tx.unsafe(migration.statements);
      await tx`select set_config('latchkey.test_rollback', 'yes', true)`;
      throw new Rollback();
    }).catch((error) => {
      if (!(error instanceof Rollback)) throw error;
    });
  });
});

class Rollback extends Error {}

// On our own clusters (the test command's), the database is set up as hosted Supabase sets up a
// project and everything runs as the demoted `postgres`; these prove it, and that a migration
// needing more than hosted gives would fail here before it fails on a user's project.
const superuserUrl = Deno.env.get("LATCHKEY_TEST_SUPERUSER_URL");

Deno.test({
  name: "the test database looks like hosted Supabase: postgres is demoted, auth.* exists",
  ignore: !superuserUrl,
  async fn() {
    await withDatabase(async (sql) => {
      const [me] = await sql<Record<string, unknown>[]>`
        select current_user as "user", rolsuper, rolcreaterole, rolcreatedb, rolbypassrls,
          (select array_agg(rolname order by rolname) from pg_roles where rolsuper) as superusers,
          pg_has_role('postgres', 'authenticated', 'member') as in_authenticated,
          (select rolconfig from pg_roles where rolname = 'anon') as anon_settings,
          has_schema_privilege('auth', 'create') as create_in_auth,
          has_schema_privilege('extensions', 'usage') as use_extensions
        from pg_roles where rolname = current_user`;
      assert.deepEqual({ ...me }, {
        user: "postgres",
        rolsuper: false,
        rolcreaterole: true,
        rolcreatedb: true,
        rolbypassrls: true,
        superusers: ["supabase_admin"],
        in_authenticated: true,
        anon_settings: ["statement_timeout=3s"],
        create_in_auth: false,
        use_extensions: true,
      });
      const [claims] = await sql.begin(async (tx) => {
        await tx`select set_config('request.jwt.claims',
          '{"sub": "6f1c1a52-9a7e-4d0e-9c55-1c0de0c0ffee", "role": "authenticated"}', true)`;
        return await tx<{ uid: string; role: string; jwt: Record<string, string> }[]>`
          select auth.uid()::text as uid, auth.role() as role, auth.jwt() as jwt`;
      });
      assert.equal(claims.uid, "6f1c1a52-9a7e-4d0e-9c55-1c0de0c0ffee");
      assert.equal(claims.role, "authenticated");
      assert.equal(claims.jwt.role, "authenticated");
    });
  },
});

Deno.test({
  name: "a migration that needs a superuser or writes into Supabase's schemas fails here",
  ignore: !superuserUrl,
  async fn() {
    const { createPlatformDatabase } = await import("../support/database.ts");
    const url = await createPlatformDatabase(
      superuserUrl!,
      `bad_${crypto.randomUUID().slice(0, 8)}`,
    );
    const sql = postgres(url, { max: 1, prepare: false, onnotice: () => {} });
    const directory = await Deno.makeTempDir({ prefix: "latchkey-bad-migrations-" });
    try {
      const forbidden = [
        "create table auth.latchkey_sessions (id uuid primary key)",
        "create function storage.latchkey_helper() returns int language sql as 'select 1'",
        // What a migration would do to skip our triggers while loading data.
        "set local session_replication_role = replica",
        "create extension file_fdw",
        "alter role postgres superuser",
        `create event trigger latchkey_watch on ddl_command_end
           execute function pg_catalog.pg_event_trigger_ddl_commands()`,
      ];
      for (const [index, statement] of forbidden.entries()) {
        const file = `${directory}/2099010100000${index}_forbidden.sql`;
        await Deno.writeTextFile(file, `${statement};\n`);
        await assert.rejects(
          () => applyMigrations(sql, new URL(`file://${directory}/`)),
          (error: { code?: string }) => error.code === "42501",
          statement,
        );
        await Deno.remove(file);
      }
      const [{ recorded }] = await sql<{ recorded: number }[]>`
        select count(*)::int as recorded from supabase_migrations.schema_migrations`;
      assert.equal(recorded, 0, "a failed migration is not recorded");
    } finally {
      await sql.end();
      await Deno.remove(directory, { recursive: true });
    }
  },
});

Deno.test({
  name: "our migrations own nothing in Supabase's schemas",
  ignore: !superuserUrl,
  async fn() {
    await withDatabase(async (sql) => {
      const owned = await sql<{ object: string }[]>`
        select n.nspname || '.' || c.relname as object
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname in ('auth', 'storage', 'extensions', 'graphql_public')
          and c.relowner = 'postgres'::regrole
        union all
        select n.nspname || '.' || p.proname
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname in ('auth', 'storage', 'extensions', 'graphql_public')
          and p.proowner = 'postgres'::regrole`;
      assert.deepEqual([...owned], []);
    });
  },
});
