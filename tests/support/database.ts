import postgres from "postgres";
import { freePort } from "./server.ts";

/** A database for one test run, and how to get rid of it. */
export interface TestDatabase {
  kind: "external" | "ephemeral-cluster" | "pglite";
  /** As the functions and migrations connect: on our clusters, Supabase's demoted `postgres`. */
  url: string;
  /** The platform's superuser (`supabase_admin`), for what only Supabase may do; ours only. */
  superuserUrl?: string;
  description: string;
  /** Fault injection, for clusters the test owns: stop and start the server on the same port. */
  stopServer?(): Promise<void>;
  startServer?(): Promise<void>;
  /** Directory of the PostgreSQL binaries, when the cluster is ours (pg_ctl for fault tests). */
  binDirectory?: string;
  dataDirectory?: string;
  stop(): Promise<void>;
}

async function run(command: string, args: string[], options: { user?: string } = {}) {
  const [program, programArgs] = options.user && Deno.uid() === 0
    ? ["runuser", ["-u", options.user, "--", command, ...args]]
    : [command, args];
  const output = await new Deno.Command(program, {
    args: programArgs,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!output.success) {
    const text = new TextDecoder().decode(output.stderr) + new TextDecoder().decode(output.stdout);
    throw new Error(`${command} ${args.join(" ")} failed:\n${text}`);
  }
  return new TextDecoder().decode(output.stdout);
}

/** The newest local PostgreSQL server binaries: PG_BIN, pg_config's bindir, or Debian's path. */
export async function findPostgresBinaries(): Promise<string | null> {
  const candidates: string[] = [];
  const fromEnv = Deno.env.get("PG_BIN");
  if (fromEnv) candidates.push(fromEnv);
  try {
    candidates.push((await run("pg_config", ["--bindir"])).trim());
  } catch {
    // pg_config is optional.
  }
  try {
    const versions: number[] = [];
    for await (const entry of Deno.readDir("/usr/lib/postgresql")) {
      if (/^\d+$/.test(entry.name)) versions.push(Number(entry.name));
    }
    versions.sort((a, b) => b - a).forEach((v) => candidates.push(`/usr/lib/postgresql/${v}/bin`));
  } catch {
    // Not a Debian layout.
  }
  for (const directory of candidates) {
    try {
      await Deno.stat(`${directory}/initdb`);
      await Deno.stat(`${directory}/pg_ctl`);
      return directory;
    } catch {
      continue;
    }
  }
  return null;
}

const supabaseRoles = new URL("./supabase_roles.sql", import.meta.url);
const supabasePlatform = new URL("./supabase_platform.sql", import.meta.url);

/** Runs one of the platform's SQL files as the cluster's superuser. */
async function runAsPlatform(superuserUrl: string, file: URL): Promise<void> {
  const platform = postgres(superuserUrl, { max: 1, onnotice: () => {} });
  try {
    await platform.unsafe(await Deno.readTextFile(file));
  } finally {
    await platform.end();
  }
}

/**
 * A fresh database on one of our clusters, set up as hosted Supabase sets up a project; returns
 * its URL as the demoted `postgres`. For tests that need a database nobody has migrated yet.
 */
export async function createPlatformDatabase(superuserUrl: string, name: string): Promise<string> {
  const maintenance = new URL(superuserUrl);
  maintenance.pathname = "/postgres";
  const admin = postgres(maintenance.toString(), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name.replaceAll('"', '""')}"`);
  } finally {
    await admin.end();
  }
  const target = new URL(superuserUrl);
  target.pathname = `/${encodeURIComponent(name)}`;
  await runAsPlatform(target.toString(), supabasePlatform);
  target.username = "postgres";
  return target.toString();
}

/**
 * A copy of a migrated database on one of our clusters (CREATE DATABASE … TEMPLATE), for one
 * worker of the suite: migrating once and copying is much quicker than migrating each. Returns
 * its URLs as the demoted `postgres` and as the platform's superuser.
 */
export async function cloneDatabase(
  superuserUrl: string,
  template: string,
  name: string,
): Promise<{ url: string; superuserUrl: string }> {
  const maintenance = new URL(superuserUrl);
  maintenance.pathname = "/postgres";
  const admin = postgres(maintenance.toString(), { max: 1, onnotice: () => {} });
  const quoted = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`;
  try {
    await admin.unsafe(`create database ${quoted(name)} template ${quoted(template)}`);
    // A database's own grants are not copied with it (supabase_platform.sql's first grant).
    await admin.unsafe(`grant all on database ${quoted(name)} to postgres`);
  } finally {
    await admin.end();
  }
  const target = new URL(superuserUrl);
  target.pathname = `/${encodeURIComponent(name)}`;
  const asSuperuser = target.toString();
  target.username = "postgres";
  return { url: target.toString(), superuserUrl: asSuperuser };
}

/**
 * A throwaway cluster set up as hosted Supabase sets up a project (`supabase_roles.sql`,
 * `supabase_platform.sql`: `supabase_admin` the bootstrap and only superuser, `postgres` demoted,
 * the API roles, schemas `auth` and `extensions`): initdb in a temp directory, tuned for tests (fsync off unless
 * durable), on a free loopback port. PostgreSQL refuses to run as root, so as root it runs as
 * the OS user `postgres`.
 */
export async function startEphemeralCluster(
  binDirectory: string,
  /** `settings`: more server settings (`-c name=value`), e.g. a benchmark's diagnostics. */
  options: { durable?: boolean; settings?: string[] } = {},
): Promise<TestDatabase> {
  const runAs = Deno.uid() === 0 ? "postgres" : undefined;
  const dataDirectory = await Deno.makeTempDir({ prefix: "latchkey-pg-" });
  if (runAs) await run("chown", [runAs, dataDirectory]);
  await run(`${binDirectory}/initdb`, [
    "-D",
    dataDirectory,
    "-U",
    "supabase_admin",
    "--auth=trust",
    "--encoding=UTF8",
    "--locale=C",
    "--no-sync",
  ], { user: runAs });
  const port = freePort();
  const settings = [
    `-p ${port}`,
    "-c listen_addresses=127.0.0.1",
    `-c unix_socket_directories=${dataDirectory}`,
    "-c max_connections=200",
    // Tests trade durability for speed; the benchmark keeps PostgreSQL's defaults.
    ...(options.durable
      ? []
      : ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]),
    ...(options.settings ?? []),
  ].join(" ");
  const pgCtl = (...args: string[]) =>
    run(`${binDirectory}/pg_ctl`, ["-D", dataDirectory, "-w", "-t", "30", ...args], {
      user: runAs,
    });
  const startServer = () => pgCtl("-l", `${dataDirectory}/server.log`, "-o", settings, "start");
  await startServer();
  const clusterUrl = `postgres://supabase_admin@127.0.0.1:${port}`;
  await runAsPlatform(`${clusterUrl}/postgres`, supabaseRoles);
  const url = await createPlatformDatabase(`${clusterUrl}/postgres`, "latchkey_test");
  return {
    kind: "ephemeral-cluster",
    url,
    superuserUrl: `${clusterUrl}/latchkey_test`,
    description:
      `ephemeral PostgreSQL cluster set up like hosted Supabase, as the demoted postgres (${binDirectory}, port ${port})`,
    binDirectory,
    dataDirectory,
    stopServer: async () => void await pgCtl("-m", "fast", "stop"),
    startServer: async () => void await startServer(),
    async stop() {
      await pgCtl("-m", "immediate", "stop").catch(() => {});
      await Deno.remove(dataDirectory, { recursive: true }).catch(() => {});
    },
  };
}

/** TEST_DATABASE_URL, else an ephemeral cluster from local binaries, else embedded PGlite. */
export async function provisionTestDatabase(): Promise<TestDatabase> {
  const url = Deno.env.get("TEST_DATABASE_URL");
  if (url) {
    return {
      kind: "external",
      url,
      description: "TEST_DATABASE_URL",
      stop: () => Promise.resolve(),
    };
  }
  // LATCHKEY_TEST_DATABASE=pglite forces the embedded fallback, to check it still works.
  const forcePglite = Deno.env.get("LATCHKEY_TEST_DATABASE") === "pglite";
  const binDirectory = forcePglite ? null : await findPostgresBinaries();
  if (binDirectory) return await startEphemeralCluster(binDirectory);
  const { startEmbeddedDatabase } = await import("../../functions/_local/embedded_database.ts");
  const dataDirectory = await Deno.makeTempDir({ prefix: "latchkey-pglite-" });
  const embedded = await startEmbeddedDatabase(dataDirectory, "deno task test");
  return {
    kind: "pglite",
    url: embedded.url,
    description: `embedded PGlite in ${dataDirectory} (no PostgreSQL binaries found)`,
    async stop() {
      await embedded.close();
      await Deno.remove(dataDirectory, { recursive: true }).catch(() => {});
    },
  };
}
