import assert from "node:assert/strict";
import postgres from "postgres";
import { applyMigrations, readMigrations } from "../../functions/_local/migrate.ts";
import { createPlatformDatabase } from "../support/database.ts";
import { serveFunctions } from "../support/in_process.ts";

/**
 * The real Supabase CLI (from npm, pinned in tests/support/tools.ts) against fresh databases set
 * up like a hosted project, as a user runs it: `db push` applies our migrations as the demoted
 * `postgres`, `migration list` agrees with our own runner whichever applied them, `db advisors`
 * finds nothing on our objects, and after `db push --include-seed` the functions create the
 * first admin from their secrets with no command of ours.
 */

const cli = Deno.env.get("LATCHKEY_TEST_SUPABASE_CLI");
const superuserUrl = Deno.env.get("LATCHKEY_TEST_SUPERUSER_URL");
// Counted as skipped by the runner, which says why (no CLI, or a database that is not ours).
const ignore = !cli || !superuserUrl;
const root = new URL("../../", import.meta.url).pathname;

async function supabase(...args: string[]) {
  const output = await new Deno.Command("node", {
    args: [cli!, ...args, "--output-format", "json", "--workdir", root],
    cwd: root,
    env: { SUPABASE_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  if (!output.success) {
    throw new Error(`supabase ${args.join(" ")} failed:\n${stderr}\n${stdout}`);
  }
  return JSON.parse(stdout);
}

async function freshProjectDatabase(): Promise<string> {
  return await createPlatformDatabase(superuserUrl!, `cli_${crypto.randomUUID().slice(0, 8)}`);
}

async function withSql<T>(url: string, work: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, prepare: false, onnotice: () => {} });
  try {
    return await work(sql);
  } finally {
    await sql.end();
  }
}

const ourVersions = async () => (await readMigrations()).map((migration) => migration.version);

/** `migration list`: every migration both local and applied, and nothing else. */
async function assertListAgrees(url: string) {
  const listed = await supabase("migration", "list", `--remote=${url}`);
  const versions = await ourVersions();
  assert.deepEqual(listed.migrations.map((row: { local: string }) => row.local), versions);
  assert.deepEqual(listed.migrations.map((row: { remote: string }) => row.remote), versions);
}

Deno.test({
  name: "supabase db push applies our migrations as postgres; our runner then finds none pending",
  ignore,
  async fn() {
    const url = await freshProjectDatabase();
    const pushed = await supabase("db", "push", `--remote=${url}`, "--yes");
    assert.equal(pushed.upToDate, false);
    await withSql(url, async (sql) => {
      assert.deepEqual(await applyMigrations(sql), [], "the CLI's record is our runner's record");
      const [{ superuser }] = await sql<{ superuser: boolean }[]>`
        select rolsuper as superuser from pg_roles where rolname = current_user`;
      assert.equal(superuser, false, "pushed as the demoted postgres");
    });
    await assertListAgrees(url);
  },
});

Deno.test({
  name: "our runner first: supabase migration list shows every migration applied, push has none",
  ignore,
  async fn() {
    const url = await freshProjectDatabase();
    const applied = await withSql(url, (sql) => applyMigrations(sql));
    assert.deepEqual(applied.map((migration) => migration.version), await ourVersions());
    await assertListAgrees(url);
    const pushed = await supabase("db", "push", `--remote=${url}`, "--yes");
    assert.equal(pushed.upToDate, true);
    assert.deepEqual(pushed.migrations, []);
  },
});

interface Lint {
  name: string;
  level: string;
  detail: string;
  metadata?: { schema?: string; name?: string };
}

async function advisors(url: string): Promise<Lint[]> {
  return (await supabase("db", "advisors", `--remote=${url}`, "--level", "info")).results;
}

Deno.test({
  name:
    "supabase db advisors: 0 ERROR and 0 WARN on a migrated project; a planted problem is found",
  ignore,
  async fn() {
    const url = await freshProjectDatabase();
    await supabase("db", "push", `--remote=${url}`, "--yes");
    const found = await advisors(url);
    const serious = found.filter((lint) => lint.level === "ERROR" || lint.level === "WARN");
    assert.deepEqual(serious, [], "nothing at WARN or above");
    // On a database nobody has used yet, "unused index" is the only thing it may say of ours.
    const ours = found.filter((lint) =>
      lint.metadata?.schema === "latchkey" && lint.name !== "unused_index"
    );
    assert.deepEqual(ours, [], "no INFO on schema latchkey but unused indexes");

    // The advisors read this database: a table with two permissive policies for one action
    // is the warning our policies used to raise.
    await withSql(url, (sql) =>
      sql.unsafe(`
        create table public.planted (id int primary key);
        alter table public.planted enable row level security;
        create policy first on public.planted for select using (true);
        create policy second on public.planted for select using (true);`));
    const planted = (await advisors(url)).filter((lint) => lint.metadata?.name === "planted");
    assert.ok(
      planted.some((lint) => lint.name === "multiple_permissive_policies" && lint.level === "WARN"),
      JSON.stringify(planted),
    );
  },
});

Deno.test({
  name: "after supabase db push --include-seed the functions create the first admin themselves",
  ignore,
  async fn() {
    const url = await freshProjectDatabase();
    const pushed = await supabase("db", "push", `--remote=${url}`, "--include-seed", "--yes");
    assert.deepEqual(pushed.seeds.map((seed: { path?: string } | string) => seedPath(seed)), [
      "sql/seed.sql",
    ]);
    // The seed ran with nothing bound: it created no one (and said "skipped").
    await withSql(url, async (sql) => {
      const [{ users }] = await sql<{ users: number }[]>`
        select count(*)::int as users from latchkey.users`;
      assert.equal(users, 0);
    });

    // What `supabase secrets set` gives the functions on a hosted project; nothing else runs.
    const email = "first-admin@cli.example.test";
    const password = "the operator's first passphrase";
    const adminKey = `cli-admin-key-${crypto.randomUUID()}`;
    const served = serveFunctions({
      SUPABASE_DB_URL: url,
      LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: email,
      LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: password,
      LATCHKEY_ADMIN_KEY: adminKey,
    });
    try {
      const signIns = await Promise.all(
        Array.from(
          { length: 8 },
          () => served.call("POST", "/auth/sign-in/email", {}, { email, password }),
        ),
      );
      assert.deepEqual(signIns.map((result) => result.status), Array(8).fill(200));
      assert.equal(signIns[0].body.user.role, "admin");

      const listed = await served.call(
        "GET",
        `/admin/users?email=${encodeURIComponent(email)}`,
        { "x-admin-key": adminKey },
      );
      assert.equal(listed.status, 200);
      assert.deepEqual(listed.body.users.map((user: { email: string }) => user.email), [email]);

      // A redeploy runs the seed machinery again: still one admin, created and audited once.
      const again = await supabase("db", "push", `--remote=${url}`, "--include-seed", "--yes");
      assert.equal(again.upToDate, true);
      const [row] = await withSql(url, (sql) =>
        sql<{ admins: number; audited: number }[]>`
          select
            (select count(*)::int from latchkey.users where role = 'admin') as admins,
            (select count(*)::int from latchkey.audit_events
              where action = 'bootstrap.admin_created') as audited`);
      assert.deepEqual({ ...row }, { admins: 1, audited: 1 });
    } finally {
      await served.close();
    }
  },
});

function seedPath(seed: { path?: string } | string): string {
  return typeof seed === "string" ? seed : seed.path ?? JSON.stringify(seed);
}
