/**
 * `deno task test`: brings its own database, and runs the unit, HTTP and browser tests
 * (Deno.test), the Postman collection (newman) and the pgTAP proofs (pg_prove) against real
 * gateways. The work is shared among workers (LATCHKEY_TEST_WORKERS, default: the machine's
 * cores + 2), each with its own database copied from one migrated template and its own gateway,
 * taking the next part of the plan (tests/support/test_plan.ts) when free. Ends with one summary
 * line; anything that could not run is said loudly and counted as skipped, never as passed.
 */
import postgres from "postgres";
import { applyMigrations } from "../functions/_local/migrate.ts";
import { cloneDatabase, provisionTestDatabase } from "./support/database.ts";
import { databaseActivity } from "./support/database_activity.ts";
import { testsLockFlag } from "./support/deno_run.ts";
import { startTestServer, type TestServer } from "./support/server.ts";
import { sparkplugOnMainThread } from "./support/start_flags.ts";
import {
  type PlanItem,
  planItems,
  readDurations,
  readTestOutput,
  stripAnsi,
  writeDurations,
} from "./support/test_plan.ts";
import {
  ensureChromium,
  ensureNewman,
  ensurePgBouncer,
  ensurePgTap,
  ensureSupabaseCli,
} from "./support/tools.ts";

const root = new URL("../", import.meta.url).pathname;
const started = performance.now();

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

/**
 * Runs a command and returns its output, stdout and stderr together. Echoed as it comes when
 * the command runs alone; kept and printed whole by the caller when workers run side by side,
 * so that one part's output is never cut into another's.
 */
async function runCommand(
  program: string,
  args: string[],
  { env = {}, echo = false, timeoutMs, cpuFile, diagnose }: {
    env?: Record<string, string>;
    echo?: boolean;
    timeoutMs?: number;
    /** What to report, before the kill, about a command that ran out of time. */
    diagnose?: () => Promise<string>;
    /** Where a shell around the command writes the CPU seconds it and its children used. */
    cpuFile?: string;
  } = {},
) {
  // The shell waits for the command (and the command for its own children), so its children's
  // times in /proc/$$/stat (fields 16 and 17, in clock ticks) are the whole part's.
  const [file, fileArgs] = cpuFile
    ? [
      "sh",
      [
        "-c",
        '"$@"; status=$?; cut -d" " -f16,17 /proc/$$/stat > "$LATCHKEY_CPU_FILE"; exit $status',
        "sh",
        program,
        ...args,
      ],
    ]
    : [program, args];
  const child = new Deno.Command(file, {
    args: fileArgs,
    env: cpuFile ? { ...env, LATCHKEY_CPU_FILE: cpuFile } : env,
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  let diagnosis = "";
  const timer = timeoutMs
    ? setTimeout(async () => {
      timedOut = true;
      if (diagnose) {
        diagnosis = await diagnose().catch((error) => `(no diagnosis: ${error})`);
      }
      // Around a shell, the command is the shell's child: killed first, or it would live on.
      if (cpuFile) {
        new Deno.Command("pkill", { args: ["-KILL", "-P", String(child.pid)] }).outputSync();
      }
      child.kill("SIGKILL");
    }, timeoutMs)
    : undefined;
  let text = "";
  const collect = async (stream: ReadableStream<Uint8Array>, to: typeof Deno.stdout) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      if (echo) await to.write(chunk);
    }
  };
  await Promise.all([collect(child.stdout, Deno.stdout), collect(child.stderr, Deno.stderr)]);
  const status = await child.status;
  clearTimeout(timer);
  if (timedOut) text += `\n!! killed after ${timeoutMs! / 1000} s\n${diagnosis}`;
  return { success: status.success && !timedOut, output: stripAnsi(text), timedOut };
}

/** The shipped Postman collection, run whole by newman against a gateway; counts its assertions. */
async function runPostmanCollection(
  newman: string,
  baseUrl: string,
  admin: { email: string; password: string; key: string },
  cpuFile: string,
) {
  const report = await Deno.makeTempFile({ suffix: ".json" });
  const run = await runCommand("node", [
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
  ], { timeoutMs: partTimeoutMs, cpuFile });
  try {
    const stats = JSON.parse(await Deno.readTextFile(report)).run.stats;
    const failures = stats.assertions.failed + stats.requests.failed;
    return {
      output: run.output,
      passed: stats.assertions.total - stats.assertions.failed,
      failed: failures + (run.success || failures > 0 ? 0 : 1),
    };
  } catch {
    return { output: run.output, passed: 0, failed: 1 };
  } finally {
    await Deno.remove(report).catch(() => {});
  }
}

/** The pgTAP proofs in tests/db, by pg_prove, against a database of their own. */
async function runPgTapProofs(databaseUrl: string, cpuFile: string) {
  const url = new URL(databaseUrl);
  const files: string[] = [];
  for await (const entry of Deno.readDir(`${root}tests/db`)) {
    if (entry.name.endsWith("_test.sql")) files.push(`tests/db/${entry.name}`);
  }
  const pgProve = await runCommand("pg_prove", [
    "--host",
    url.hostname,
    "--port",
    url.port,
    "--username",
    decodeURIComponent(url.username),
    "--dbname",
    decodeURIComponent(url.pathname.slice(1)),
    ...files.sort(),
  ], { timeoutMs: partTimeoutMs, cpuFile });
  const tests = /Tests=(\d+)/.exec(pgProve.output);
  const failures = [...pgProve.output.matchAll(/Failed (\d+)\/(\d+) subtests/g)]
    .reduce((sum, match) => sum + Number(match[1]), 0);
  return {
    output: pgProve.output,
    passed: tests ? Number(tests[1]) - failures : 0,
    failed: failures + (!pgProve.success && failures === 0 ? 1 : 0),
  };
}

/**
 * Tests whose outcome is not the Deno's serving the functions, left out of the compat pass:
 * the Supabase CLI's (migrations it pushes).
 */
const sameOnEveryDeno = ["tests/local/supabase_cli_test.ts"];

/** The development secrets a gateway made (signing keys' private parts, MFA key), for the log check. */
function developmentSecrets(dataDir: string): string[] {
  const read = (file: string) => {
    try {
      return Deno.readTextFileSync(`${dataDir}/${file}`);
    } catch {
      return null;
    }
  };
  const signing = read("jwt-signing-keys.json");
  const mfaKey = read("mfa-encryption-key")?.trim();
  return [
    ...(signing ? JSON.parse(signing).keys.map((key: { d: string }) => key.d) : []),
    ...(mfaKey ? [mfaKey] : []),
  ];
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
 * Seconds of CPU a process has used (Linux's /proc), and with `reaped` those of the children it
 * has waited for; 0 where there is no /proc.
 */
function cpuSeconds(pid: number, { reaped = false } = {}): number {
  try {
    // The fields after the command's closing parenthesis; utime is the 14th field of the line.
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
    const [utime, stime, cutime, cstime] = fields.slice(11, 15);
    return (utime + stime + (reaped ? cutime + cstime : 0)) / 100;
  } catch {
    return 0;
  }
}
let cpuReport = "CPU: not measured";
/** CPU seconds per part of the plan: its processes', and its worker's gateway's meanwhile. */
const cpuByPart: { part: string; tests: number; gateway: number }[] = [];

const secondsSince = (start: number) => ((performance.now() - start) / 1000).toFixed(0);

/** A part of the suite that hangs is killed and counted as failed, not waited for. */
const partTimeoutMs = 300_000;

/**
 * `deno task test -- <file or folder> ...` runs only those Deno tests (a contributor's quick
 * loop); the rest of the suite is then counted as not run. `--write-durations` rewrites
 * tests/durations.json from this run's times (the plan's weights).
 */
const chosen = Deno.args.filter((arg) => !arg.startsWith("-"));
const recordDurations = Deno.args.includes("--write-durations");
const workerCount = Number(
  Deno.env.get("LATCHKEY_TEST_WORKERS") ?? navigator.hardwareConcurrency + 2,
);
if (!Number.isInteger(workerCount) || workerCount < 1) {
  console.error("LATCHKEY_TEST_WORKERS must be a whole number of at least 1");
  Deno.exit(2);
}

const database = await provisionTestDatabase();
console.log(`test database: ${database.description}`);
const servers: TestServer[] = [];
// Stopped by hand (Ctrl-C, kill): no cluster or gateway is left running behind.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    await Promise.all(servers.map((server) => server.stop()));
    await database.stop();
    Deno.exit(130);
  });
}
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
    "profile: compat (not the browser or Supabase CLI tests: not this Deno's)",
  );
}
if (database.kind === "pglite") {
  banner([
    "No PostgreSQL server binaries found: running on embedded PGlite.",
    "Install PostgreSQL (apt-get install postgresql) or set TEST_DATABASE_URL for real runs.",
  ]);
}

/** One worker: its database, its gateway, and the environment its tests read. */
interface Worker {
  name: string;
  server: TestServer;
  env: Record<string, string>;
}

try {
  const sql = postgres(database.url, { max: 1, prepare: false, onnotice: () => {} });
  const applied = await applyMigrations(sql);
  console.log(`migrations: ${applied.length} applied`);
  await sql.end();

  // Tools first, one after another (apt-get takes one install at a time): the pooler tests'
  // PgBouncer too, so that no two workers install at once.
  const wholeSuite = chosen.length === 0;
  // The proofs run with the whole suite, and when a run names tests/db (or a file in it).
  const pgTapChosen = wholeSuite || chosen.some((path) => /^(\.\/)?tests\/db(\/|$)/.test(path));
  const pgTapInstalled = pgTapChosen && database.kind !== "pglite" && await ensurePgTap();
  const newman = wholeSuite ? await ensureNewman() : null;
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
  const folders = wholeSuite
    ? [
      "tests/unit",
      "tests/local",
      "tests/http",
      ...(compatPass ? [] : ["tests/browser"]),
      ...(functionalOnly ? [] : ["tests/concurrency", "tests/faults"]),
    ]
    : chosen;
  const files = folders.flatMap(testFilesIn)
    .filter((file) => !(compatPass && sameOnEveryDeno.includes(file)));
  if (files.some((file) => file.startsWith("tests/faults/"))) await ensurePgBouncer();

  // Type-checked once here; the workers' deno test then skips it (each would check again).
  // The whole suite checks what `deno task check` checks, which Deno then finds in its cache.
  const check = await runCommand(
    Deno.execPath(),
    ["check", testsLockFlag, ...(wholeSuite ? ["functions", "tests"] : files)],
  );
  if (!check.success) {
    console.log(`${check.output}\nnot ok - deno check`);
    failed += 1;
  }

  // pgTAP is not trusted: the platform's superuser installs it (on hosted, from the dashboard),
  // and the proofs then run as postgres like everything else. In schema public, which every
  // role may use, so its assertions still resolve while a proof runs as latchkey_caller (on
  // hosted that role gets no usage on schema extensions, and neither does it here). In a copy
  // of its own when the cluster is ours, so that no other database has the extension.
  let pgTapUrl: string | null = null;
  if (pgTapInstalled) {
    const copy = database.superuserUrl
      ? await cloneDatabase(database.superuserUrl, "latchkey_test", "latchkey_pgtap")
      : { url: database.url, superuserUrl: database.url };
    const platform = postgres(copy.superuserUrl, { max: 1, onnotice: () => {} });
    pgTapUrl = await platform`create extension if not exists pgtap with schema public`
      .then(() => copy.url, () => null);
    await platform.end();
  }

  const secretsFile = await Deno.makeTempFile({ prefix: "latchkey-secrets-" });
  // A fresh X-Admin-Key per run: tests use it to create support and admin accounts.
  const adminKey = `test-admin-key-${crypto.randomUUID()}`;
  // The start command seeds this first admin; the Postman collection signs in with it.
  const bootstrapEmail = "bootstrap-admin@latchkey.test";
  const bootstrapPassword = `bootstrap-${crypto.randomUUID()}`;

  // The plan: the Deno test files, the Postman collection and the pgTAP proofs, heaviest first.
  const durations = readDurations();
  type Part = PlanItem & { kind: "deno" | "postman" | "pgtap" };
  const parts: Part[] = planItems(files, durations).map((item) => ({ ...item, kind: "deno" }));
  if (newman) parts.push({ kind: "postman", files: ["tests/postman"], weight: 0 });
  if (pgTapUrl) parts.push({ kind: "pgtap", files: ["tests/db"], weight: 0 });
  for (const part of parts) {
    if (part.kind !== "deno") part.weight = durations[part.files[0]] ?? 10;
  }
  parts.sort((a, b) => b.weight - a.weight);

  // One database per worker, copied from the migrated one, which is then left alone as the
  // template. Without a cluster of ours (TEST_DATABASE_URL, PGlite) one worker uses it as is.
  const workerDatabases = database.superuserUrl
    ? []
    : [{ url: database.url, superuserUrl: undefined as string | undefined }];
  // No more workers than parts (a partial run of one file needs one).
  for (let i = 1; database.superuserUrl && i <= Math.min(workerCount, parts.length); i++) {
    workerDatabases.push(
      await cloneDatabase(database.superuserUrl, "latchkey_test", `latchkey_worker_${i}`),
    );
  }
  const workers: Worker[] = await Promise.all(workerDatabases.map(async (copy, i) => {
    const server = await startTestServer(copy.url, {
      LATCHKEY_CORS_ORIGINS: "https://app.example.test",
      // As behind one proxy: tests name their client in X-Forwarded-For (support/http.ts).
      LATCHKEY_TRUSTED_PROXY_HOPS: "1",
      // A tier with low self-service caps, for tests/http/security/review_findings_test.ts.
      LATCHKEY_TIER_LIMITS: '{"capped": {"maxActiveKeys": 3, "maxRateLimitPerMinute": 100}}',
      LATCHKEY_ADMIN_KEY: adminKey,
      LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: bootstrapEmail,
      LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: bootstrapPassword,
      // No signing key: POST /auth/token signs with the development key the start command
      // makes (the Postman collection passes against a plain start); its private part must
      // never be logged.
    });
    servers.push(server);
    return {
      name: `worker ${i + 1}`,
      server,
      env: {
        LATCHKEY_TEST_BASE_URL: server.baseUrl,
        LATCHKEY_TEST_DATABASE_URL: copy.url,
        LATCHKEY_TEST_DATABASE_KIND: database.kind,
        ...(copy.superuserUrl ? { LATCHKEY_TEST_SUPERUSER_URL: copy.superuserUrl } : {}),
        LATCHKEY_TEST_ADMIN_KEY: adminKey,
        LATCHKEY_TEST_BOOTSTRAP_EMAIL: bootstrapEmail,
        LATCHKEY_TEST_BOOTSTRAP_PASSWORD: bootstrapPassword,
        LATCHKEY_TEST_SECRETS_FILE: secretsFile,
        LATCHKEY_TEST_SERVER_LOG: server.logPath,
        // Its development secrets (the MFA key that encrypts the TOTP secrets it enrolled), for
        // a test's own gateway on the same database.
        LATCHKEY_TEST_DATA_DIR: server.dataDir,
        ...(chromium ? { LATCHKEY_TEST_CHROMIUM: chromium } : {}),
        ...(supabaseCli ? { LATCHKEY_TEST_SUPABASE_CLI: supabaseCli } : {}),
      },
    };
  }));
  console.log(
    `${secondsSince(started)} s in, ${workers.length} worker(s), each with its own database ` +
      `and gateway: ` +
      workers.map((worker) => worker.server.baseUrl).join(", "),
  );

  const measured: Record<string, number> = {};

  const runPart = async (part: Part, worker: Worker) => {
    const partStarted = performance.now();
    const cpuFile = await Deno.makeTempFile({ prefix: "latchkey-cpu-" });
    const gatewayCpuBefore = cpuSeconds(worker.server.pid);
    let result: { output: string; passed: number; failed: number };
    if (part.kind === "postman") {
      result = await runPostmanCollection(newman!, worker.server.baseUrl, {
        email: bootstrapEmail,
        password: bootstrapPassword,
        key: adminKey,
      }, cpuFile);
    } else if (part.kind === "pgtap") {
      result = await runPgTapProofs(pgTapUrl!, cpuFile);
    } else {
      const run = await runCommand(
        Deno.execPath(),
        [
          "test",
          testsLockFlag,
          "--no-check",
          `--v8-flags=${sparkplugOnMainThread}`,
          "--allow-all",
          ...part.files,
        ],
        {
          env: worker.env,
          timeoutMs: partTimeoutMs,
          cpuFile,
          diagnose: () =>
            databaseActivity(database.superuserUrl ?? database.url, "when the part was killed"),
        },
      );
      const outcome = readTestOutput(run.output);
      Object.assign(measured, outcome.secondsByFile);
      skipped += outcome.ignored;
      failedTestNames.push(...outcome.failures);
      if (run.timedOut) failedTestNames.push(`${part.files.join(", ")}: killed after 300 s`);
      result = {
        output: run.output,
        passed: outcome.passed,
        // A run that failed with no failed test (a file that did not load) is one failure.
        failed: outcome.failed + (!run.success && outcome.failed === 0 ? 1 : 0),
      };
    }
    const seconds = (performance.now() - partStarted) / 1000;
    if (part.kind !== "deno") measured[part.files[0]] = seconds;
    const cpu = {
      part: part.files.join(" "),
      tests: await Deno.readTextFile(cpuFile).then(
        (ticks) => ticks.trim().split(" ").reduce((sum, tick) => sum + Number(tick), 0) / 100,
        () => 0,
      ),
      gateway: cpuSeconds(worker.server.pid) - gatewayCpuBefore,
    };
    cpuByPart.push(cpu);
    await Deno.remove(cpuFile).catch(() => {});
    passed += result.passed;
    failed += result.failed;
    console.log(
      `\n=== ${worker.name}, ${secondsSince(started)} s in: ${part.files.join(" ")} ` +
        `(${seconds.toFixed(1)} s; CPU ${cpu.tests.toFixed(1)} s, gateway ` +
        `${cpu.gateway.toFixed(1)} s; ` +
        `${result.passed} passed, ${result.failed} failed)\n${result.output.trimEnd()}`,
    );
  };

  const queue = [...parts];
  await Promise.all(workers.map(async (worker) => {
    for (let part = queue.shift(); part; part = queue.shift()) await runPart(part, worker);
  }));

  if (!wholeSuite) {
    notRun([
      `Only ${chosen.join(", ")} ran: the Postman collection, the secrets-in-log check and the`,
      "pgTAP proofs did NOT (run `deno task test` with no arguments for the whole suite).",
    ], { failUnderCi: true });
  } else {
    if (!newman) {
      notRun(["The Postman collection was NOT run: Node.js/npm could not provide newman."], {
        failUnderCi: true,
      });
    }
    if (!pgTapUrl) {
      notRun([
        "pgTAP proofs in tests/db were NOT run: " +
        (database.kind === "pglite"
          ? "PGlite has no pgTAP."
          : "pg_prove or the pgtap extension is missing and apt-get could not install them."),
        "Install them: apt-get install postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl",
      ], { failUnderCi: true });
    }

    // Secrets never in logs: every password, token and key the suite handled, against every
    // line every gateway wrote during the suite.
    const secrets = new Set(
      [
        ...(await Deno.readTextFile(secretsFile)).split("\n"),
        adminKey,
        bootstrapPassword,
        ...workers.flatMap((worker) => developmentSecrets(worker.server.dataDir)),
      ]
        .filter((secret) => secret.length >= 10),
    );
    const serverLog = (await Promise.all(
      workers.map((worker) => Deno.readTextFile(worker.server.logPath)),
    )).join("\n");
    const leaked = [...secrets].filter((secret) => serverLog.includes(secret));
    const logLines = serverLog.split("\n").length;
    if (leaked.length === 0 && secrets.size > 100 && logLines > 500) {
      console.log(
        `ok - no secret in the servers' logs (${secrets.size} secrets, ${logLines} lines)`,
      );
      passed += 1;
    } else {
      console.log(
        `not ok - secrets in the servers' logs: ${leaked.length} of ${secrets.size} leaked, ` +
          `${logLines} lines checked`,
      );
      failed += 1;
    }
  }
  if (recordDurations) {
    if (wholeSuite && failed === 0) {
      writeDurations(measured);
      console.log("tests/durations.json written from this run");
    } else {
      console.log("tests/durations.json NOT written: only a whole run that passes writes it");
    }
  }
} finally {
  // Where the machine's time went, read before the gateways and the cluster are gone.
  const gatewaySeconds = servers.reduce((sum, server) => sum + cpuSeconds(server.pid), 0);
  const postmaster = database.dataDirectory
    ? Number(Deno.readTextFileSync(`${database.dataDirectory}/postmaster.pid`).split("\n")[0])
    : null;
  const databaseSeconds = postmaster ? cpuSeconds(postmaster, { reaped: true }) : 0;
  await Promise.all(servers.map((server) => server.stop()));
  await database.stop();
  // Everything else this process waited for: deno test, newman, pg_prove, chromium, the CLI.
  const restSeconds = cpuSeconds(Deno.pid, { reaped: true }) - gatewaySeconds;
  cpuReport = `CPU: gateways ${gatewaySeconds.toFixed(0)} s, database ` +
    `${databaseSeconds.toFixed(0)} s, tests and their tools ${restSeconds.toFixed(0)} s`;
}

const seconds = ((performance.now() - started) / 1000).toFixed(1);
if (cpuByPart.length > 1) {
  // Where to look first when the suite is slow: the parts that cost the machine the most.
  const heaviest = cpuByPart.toSorted((a, b) => b.tests + b.gateway - a.tests - a.gateway);
  console.log(
    [
      "\nCPU by part, heaviest first (the part's processes + its gateway's meanwhile):",
      ...heaviest.slice(0, 12).map(({ part, tests, gateway }) =>
        `  ${(tests + gateway).toFixed(1).padStart(6)} s = ${tests.toFixed(1)} + ` +
        `${gateway.toFixed(1)}  ${part.length > 90 ? `${part.slice(0, 87)}...` : part}`
      ),
    ].join("\n"),
  );
}
if (failedTestNames.length > 0) {
  console.log(["\nfailed:", ...failedTestNames.map((name) => `  ${name}`)].join("\n"));
}
console.log(`\nDeno ${Deno.version.deno}, ${database.kind}, ${seconds}s; ${cpuReport}`);
console.log(`latchkey: ${passed} passed, ${failed} failed, ${skipped} skipped`);
Deno.exit(failed === 0 && passed > 0 ? 0 : 1);
