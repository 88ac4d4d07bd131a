/**
 * `deno task test`: brings its own database, starts the real gateway on it, and runs the unit,
 * HTTP and browser tests (Deno.test), the Postman collection (newman) and the pgTAP proofs
 * (pg_prove). Ends with one summary line; anything that could not run is said loudly and
 * counted as skipped, never as passed.
 */
import postgres from "postgres";
import { applyMigrations } from "../functions/_local/migrate.ts";
import { provisionTestDatabase } from "./support/database.ts";
import { startTestServer } from "./support/server.ts";
import { ensureChromium, ensureNewman, ensurePgTap, ensureSupabaseCli } from "./support/tools.ts";

const root = new URL("../", import.meta.url).pathname;
const started = performance.now();
// Deno colours its summary line; the counts are read from the plain text.
// deno-lint-ignore no-control-regex
const stripAnsi = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "");

let passed = 0;
let failed = 0;
/** Repeated after the summary: a log cut to its tail still names what failed. */
const failedTestNames: string[] = [];
let skipped = 0;

/**
 * A part of the suite that could not run: said loudly, and counted as skipped, never as passed
 * (as failed under CI when CI must have it).
 */
function notRun(lines: string[], { failUnderCi }: { failUnderCi: boolean }) {
  banner(lines);
  if (failUnderCi && Deno.env.get("CI")) failed += 1;
  else skipped += 1;
}

function banner(lines: string[]) {
  const rule = "!".repeat(78);
  console.error([rule, ...lines.map((line) => `!! ${line}`), rule].join("\n"));
}

/** The "name => file:line" lines of deno test's closing FAILURES list. */
function failuresListed(output: string): string[] {
  const list = output.split(/\n ?FAILURES ?\n/).at(1)?.split(/\n(?:ok|FAILED) \|/)[0] ?? "";
  return list.split("\n").filter((line) => line.includes(" => "));
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

/** The shipped Postman collection, run whole by newman against the gateway; counts its assertions. */
async function runPostmanCollection(
  baseUrl: string,
  admin: { email: string; password: string; key: string },
) {
  const newman = await ensureNewman();
  if (!newman) {
    notRun(["The Postman collection was NOT run: Node.js/npm could not provide newman."], {
      failUnderCi: true,
    });
    return { passed: 0, failed: 0 };
  }
  const report = await Deno.makeTempFile({ suffix: ".json" });
  const run = await runEchoed("node", [
    newman,
    "run",
    "tests/postman/latchkey.postman_collection.json",
    "--environment",
    "tests/postman/local.postman_environment.json",
    "--env-var",
    `baseUrl=${baseUrl}/functions/v1`,
    "--env-var",
    `adminEmail=${admin.email}`,
    "--env-var",
    `adminPassword=${admin.password}`,
    "--env-var",
    `adminKey=${admin.key}`,
    "--reporters",
    "cli,json",
    "--reporter-json-export",
    report,
    "--color",
    "off",
  ]);
  try {
    const stats = JSON.parse(await Deno.readTextFile(report)).run.stats;
    const failures = stats.assertions.failed + stats.requests.failed;
    return {
      passed: stats.assertions.total - stats.assertions.failed,
      failed: failures + (run.success || failures > 0 ? 0 : 1),
    };
  } catch {
    return { passed: 0, failed: 1 };
  } finally {
    await Deno.remove(report).catch(() => {});
  }
}

/**
 * Tests whose outcome is not the Deno's serving the functions, left out of the compat pass:
 * the Supabase CLI's (migrations it pushes) and the minute's-turn attack on the rate limiter
 * (the database's limiter; the test waits 30 s on average for the clock's minute to turn).
 */
const sameOnEveryDeno = [
  "tests/local/supabase_cli_test.ts",
  "tests/http/keys/rate_limit_minute_turn_test.ts",
];

/** The private parts of the development signing key the gateway made, for the log check. */
function developmentSigningKeys(dataDir: string): string[] {
  try {
    const set = JSON.parse(Deno.readTextFileSync(`${dataDir}/jwt-signing-keys.json`));
    return set.keys.map((key: { d: string }) => key.d);
  } catch {
    return [];
  }
}

/** The *_test.ts files under a folder of the repository, sorted (a file: itself). */
function testFilesIn(folder: string): string[] {
  if (folder.endsWith(".ts")) return [folder];
  const files: string[] = [];
  for (const entry of Deno.readDirSync(`${root}${folder}`)) {
    const path = `${folder}/${entry.name}`;
    if (entry.isDirectory) files.push(...testFilesIn(path));
    else if (entry.name.endsWith("_test.ts")) files.push(path);
  }
  return files.sort();
}

/**
 * `deno task test -- <file or folder> ...` runs only those Deno tests (a contributor's quick
 * loop); the rest of the suite is then counted as not run.
 */
const chosen = Deno.args.filter((arg) => !arg.startsWith("-"));
class PartRun extends Error {}

const database = await provisionTestDatabase();
console.log(`test database: ${database.description}`);
// LATCHKEY_TEST_PROFILE=functional leaves out the concurrency and fault tests, for a quick run.
// =compat is CI's second pass, on the edge runtime's Deno: everything whose outcome depends on
// the Deno serving the functions, so not the browser tests (static pages in chromium) nor
// sameOnEveryDeno's; the first pass ran those on the same tree.
const profile = Deno.env.get("LATCHKEY_TEST_PROFILE");
const functionalOnly = profile === "functional";
const compatPass = profile === "compat";
if (functionalOnly) console.log("profile: functional (no concurrency or fault tests)");
if (compatPass) {
  console.log(
    "profile: compat (not the browser, Supabase CLI or minute's-turn tests: not this Deno's)",
  );
}
if (database.kind === "pglite") {
  banner([
    "No PostgreSQL server binaries found: running on embedded PGlite.",
    "Install PostgreSQL (apt-get install postgresql) or set TEST_DATABASE_URL for real runs.",
  ]);
}

let server: Awaited<ReturnType<typeof startTestServer>> | undefined;
try {
  const sql = postgres(database.url, { max: 1, prepare: false, onnotice: () => {} });
  const applied = await applyMigrations(sql);
  console.log(`migrations: ${applied.length} applied`);
  await sql.end();
  // pgTAP is not trusted: the platform's superuser installs it (on hosted, from the dashboard),
  // and the proofs then run as postgres like everything else. In schema public, which every
  // role may use, so its assertions still resolve while a proof runs as latchkey_caller (on
  // hosted that role gets no usage on schema extensions, and neither does it here).
  let pgTapAvailable = false;
  if (database.kind !== "pglite" && await ensurePgTap()) {
    const platform = postgres(database.superuserUrl ?? database.url, {
      max: 1,
      onnotice: () => {},
    });
    pgTapAvailable = await platform`create extension if not exists pgtap with schema public`
      .then(() => true, () => false);
    await platform.end();
  }

  const secretsFile = await Deno.makeTempFile({ prefix: "latchkey-secrets-" });
  // A fresh X-Admin-Key per run: tests use it to create support and admin accounts.
  const adminKey = `test-admin-key-${crypto.randomUUID()}`;
  // The start command seeds this first admin; the Postman collection signs in with it.
  const bootstrapEmail = "bootstrap-admin@latchkey.test";
  const bootstrapPassword = `bootstrap-${crypto.randomUUID()}`;
  server = await startTestServer(database.url, {
    LATCHKEY_CORS_ORIGINS: "https://app.example.test",
    // As behind one proxy: tests name their client in X-Forwarded-For (support/http.ts).
    LATCHKEY_TRUSTED_PROXY_HOPS: "1",
    // A tier with low self-service caps, for tests/http/security/review_findings_test.ts.
    LATCHKEY_TIER_LIMITS: '{"capped": {"maxActiveKeys": 3, "maxRateLimitPerMinute": 100}}',
    LATCHKEY_ADMIN_KEY: adminKey,
    LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: bootstrapEmail,
    LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: bootstrapPassword,
    // No signing key: POST /auth/token signs with the development key the start command makes
    // (the Postman collection passes against a plain start); its private part must never be
    // logged.
  });
  console.log(`gateway: ${server.baseUrl} (log: ${server.logPath})`);

  const chromium = compatPass ? null : await ensureChromium();
  // Without chromium the browser tests are ignored by Deno.test, and counted as skipped below.
  if (!chromium && !compatPass) {
    banner([
      "The browser tests of the API reference page (tests/browser) were NOT run:",
      "no Chromium at LATCHKEY_CHROMIUM or /usr/bin/chromium, and apt-get could not install it.",
      "Install it (apt-get install chromium) or point LATCHKEY_CHROMIUM at a Chromium binary.",
    ]);
  }
  // The Supabase CLI's tests need fresh databases on a cluster of ours.
  const supabaseCli = database.superuserUrl && !compatPass ? await ensureSupabaseCli() : null;
  // Without it those tests are ignored by Deno.test and counted as skipped below; under CI,
  // where npm is there, a failed install is a failure.
  if (!supabaseCli && !compatPass) {
    banner([
      "The Supabase CLI tests (tests/local/supabase_cli_test.ts) were NOT run: " +
      (database.superuserUrl
        ? "npm could not install supabase."
        : "they need the test command's own cluster, not TEST_DATABASE_URL or PGlite."),
    ]);
    if (database.superuserUrl && Deno.env.get("CI")) failed += 1;
  }
  const folders = chosen.length > 0 ? chosen : [
    "tests/unit",
    "tests/local",
    "tests/http",
    ...(compatPass ? [] : ["tests/browser"]),
    ...(functionalOnly ? [] : ["tests/concurrency", "tests/faults"]),
  ];
  // The compat pass names each file but those (Deno 2.1's test runner does not apply --ignore
  // to a file inside a folder it was given).
  const denoTests = await runEchoed(Deno.execPath(), [
    "test",
    "--allow-all",
    ...(compatPass
      ? folders.flatMap(testFilesIn).filter((file) => !sameOnEveryDeno.includes(file))
      : folders),
  ], {
    LATCHKEY_TEST_BASE_URL: server.baseUrl,
    LATCHKEY_TEST_DATABASE_URL: database.url,
    LATCHKEY_TEST_DATABASE_KIND: database.kind,
    ...(database.superuserUrl ? { LATCHKEY_TEST_SUPERUSER_URL: database.superuserUrl } : {}),
    LATCHKEY_TEST_ADMIN_KEY: adminKey,
    LATCHKEY_TEST_BOOTSTRAP_EMAIL: bootstrapEmail,
    LATCHKEY_TEST_BOOTSTRAP_PASSWORD: bootstrapPassword,
    LATCHKEY_TEST_SECRETS_FILE: secretsFile,
    LATCHKEY_TEST_SERVER_LOG: server.logPath,
    ...(chromium ? { LATCHKEY_TEST_CHROMIUM: chromium } : {}),
    ...(supabaseCli ? { LATCHKEY_TEST_SUPABASE_CLI: supabaseCli } : {}),
  });
  const summary = /(\d+) passed.*?\| (\d+) failed/.exec(denoTests.output);
  if (summary) {
    passed += Number(summary[1]);
    failed += Number(summary[2]);
  }
  if (!denoTests.success && !(summary && Number(summary[2]) > 0)) failed += 1;
  skipped += Number(/(\d+) ignored/.exec(denoTests.output)?.[1] ?? 0);
  failedTestNames.push(...failuresListed(denoTests.output));

  if (chosen.length > 0) {
    notRun([
      `Only ${chosen.join(", ")} ran: the Postman collection, the secrets-in-log check and the`,
      "pgTAP proofs did NOT (run `deno task test` with no arguments for the whole suite).",
    ], { failUnderCi: true });
    throw new PartRun();
  }
  // Both folders: the life cycle, then every operation of the generated reference, whose tests
  // check that each answer is a status the OpenAPI document lists.
  const postman = await runPostmanCollection(server.baseUrl, {
    email: bootstrapEmail,
    password: bootstrapPassword,
    key: adminKey,
  });
  passed += postman.passed;
  failed += postman.failed;

  // Secrets never in logs: every password, token and key the suite handled, against every
  // line the gateway wrote during the suite.
  const secrets = new Set(
    [
      ...(await Deno.readTextFile(secretsFile)).split("\n"),
      adminKey,
      bootstrapPassword,
      ...developmentSigningKeys(server.dataDir),
    ]
      .filter((secret) => secret.length >= 10),
  );
  const serverLog = await Deno.readTextFile(server.logPath);
  const leaked = [...secrets].filter((secret) => serverLog.includes(secret));
  const logLines = serverLog.split("\n").length;
  if (leaked.length === 0 && secrets.size > 100 && logLines > 500) {
    console.log(`ok - no secret in the server log (${secrets.size} secrets, ${logLines} lines)`);
    passed += 1;
  } else {
    console.log(
      `not ok - secrets in the server log: ${leaked.length} of ${secrets.size} leaked, ` +
        `${logLines} lines checked`,
    );
    failed += 1;
  }

  if (!pgTapAvailable) {
    notRun([
      "pgTAP proofs in tests/db were NOT run: " +
      (database.kind === "pglite"
        ? "PGlite has no pgTAP."
        : "pg_prove or the pgtap extension is missing and apt-get could not install them."),
      "Install them: apt-get install postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl",
    ], { failUnderCi: true });
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
} catch (error) {
  // A partial run ends after its Deno tests (above); anything else is a real failure.
  if (!(error instanceof PartRun)) throw error;
} finally {
  await server?.stop();
  await database.stop();
}

const seconds = ((performance.now() - started) / 1000).toFixed(1);
if (failedTestNames.length > 0) {
  console.log(["\nfailed:", ...failedTestNames.map((name) => `  ${name}`)].join("\n"));
}
console.log(`\nDeno ${Deno.version.deno}, ${database.kind}, ${seconds}s`);
console.log(`latchkey: ${passed} passed, ${failed} failed, ${skipped} skipped`);
Deno.exit(failed === 0 && passed > 0 ? 0 : 1);
