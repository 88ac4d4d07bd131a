/**
 * `deno task test`: brings its own database, starts the real gateway on it, and runs the unit
 * and HTTP tests (Deno.test) and the pgTAP proofs (pg_prove). Ends with one summary line.
 */
import postgres from "postgres";
import { applyMigrations } from "../functions/_local/migrate.ts";
import { provisionTestDatabase } from "./support/database.ts";
import { startTestServer } from "./support/server.ts";

const root = new URL("../", import.meta.url).pathname;
const started = performance.now();
// Deno colours its summary line; the counts are read from the plain text.
// deno-lint-ignore no-control-regex
const stripAnsi = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "");

function banner(lines: string[]) {
  const rule = "!".repeat(78);
  console.error([rule, ...lines.map((line) => `!! ${line}`), rule].join("\n"));
}

async function which(program: string): Promise<boolean> {
  const result = await new Deno.Command("sh", {
    args: ["-c", `command -v ${program}`],
    stdout: "null",
  })
    .output();
  return result.success;
}

/** Runs a command, echoing its output as it comes, and returns that output. */
async function runEchoed(program: string, args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(program, {
    args,
    env,
    cwd: root,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    const piece = decoder.decode(chunk, { stream: true });
    text += piece;
    await Deno.stdout.write(chunk);
  }
  const status = await child.status;
  return { success: status.success, output: stripAnsi(text) };
}

const database = await provisionTestDatabase();
console.log(`test database: ${database.description}`);
if (database.kind === "pglite") {
  banner([
    "No PostgreSQL server binaries found: running on embedded PGlite.",
    "Install PostgreSQL (apt-get install postgresql) or set TEST_DATABASE_URL for real runs.",
  ]);
}

let passed = 0;
let failed = 0;
let server: Awaited<ReturnType<typeof startTestServer>> | undefined;
try {
  const sql = postgres(database.url, { max: 1, prepare: false, onnotice: () => {} });
  const applied = await applyMigrations(sql);
  console.log(`migrations: ${applied.length} applied`);
  let pgTapAvailable = false;
  if (database.kind !== "pglite") {
    pgTapAvailable = await sql`create extension if not exists pgtap`.then(() => true, () => false);
  }
  await sql.end();

  // A fresh X-Admin-Key per run: tests use it to create support and admin accounts.
  const adminKey = `test-admin-key-${crypto.randomUUID()}`;
  server = await startTestServer(database.url, { LATCHKEY_ADMIN_KEY: adminKey });
  console.log(`gateway: ${server.baseUrl} (log: ${server.logPath})`);

  const denoTests = await runEchoed(Deno.execPath(), [
    "test",
    "--allow-all",
    "tests/unit",
    "tests/local",
    "tests/http",
  ], {
    LATCHKEY_TEST_BASE_URL: server.baseUrl,
    LATCHKEY_TEST_DATABASE_URL: database.url,
    LATCHKEY_TEST_DATABASE_KIND: database.kind,
    LATCHKEY_TEST_ADMIN_KEY: adminKey,
  });
  const summary = /(\d+) passed.*?\| (\d+) failed/.exec(denoTests.output);
  if (summary) {
    passed += Number(summary[1]);
    failed += Number(summary[2]);
  }
  if (!denoTests.success && !(summary && Number(summary[2]) > 0)) failed += 1;

  const hasPgProve = await which("pg_prove");
  if (!hasPgProve || !pgTapAvailable) {
    banner([
      `pgTAP proofs in tests/db were NOT run: ${
        !hasPgProve ? "pg_prove is not installed" : "the pgtap extension is not available"
      }.`,
      "Install them: apt-get install postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl",
    ]);
    if (Deno.env.get("CI")) failed += 1;
  } else {
    const url = new URL(database.url);
    const files: string[] = [];
    for await (const entry of Deno.readDir(`${root}tests/db`)) {
      if (entry.name.endsWith("_test.sql")) files.push(`tests/db/${entry.name}`);
    }
    const pgProve = await runEchoed("pg_prove", [
      "--host",
      url.hostname,
      "--port",
      url.port,
      "--username",
      decodeURIComponent(url.username),
      "--dbname",
      url.pathname.slice(1),
      ...files.sort(),
    ]);
    const tests = /Tests=(\d+)/.exec(pgProve.output);
    const failures = [...pgProve.output.matchAll(/Failed (\d+)\/(\d+) subtests/g)]
      .reduce((sum, match) => sum + Number(match[1]), 0);
    if (tests) {
      passed += Number(tests[1]) - failures;
      failed += failures;
    }
    if (!pgProve.success && failures === 0) failed += 1;
  }
} finally {
  await server?.stop();
  await database.stop();
}

const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(`\nDeno ${Deno.version.deno}, ${database.kind}, ${seconds}s`);
console.log(`latchkey: ${passed} passed, ${failed} failed`);
Deno.exit(failed === 0 && passed > 0 ? 0 : 1);
