/** A database for one test run, and how to get rid of it. */
export interface TestDatabase {
  kind: "external" | "ephemeral-cluster" | "pglite";
  url: string;
  /** The cluster's superuser, where `url` connects as a role that is not one; ours only. */
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

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * A throwaway cluster: initdb in a temp directory, tuned for tests (fsync off unless durable), on a
 * free loopback port. PostgreSQL refuses to run as root, so as root it runs as `postgres`.
 */
export async function startEphemeralCluster(
  binDirectory: string,
  options: { durable?: boolean } = {},
): Promise<TestDatabase> {
  const runAs = Deno.uid() === 0 ? "postgres" : undefined;
  const dataDirectory = await Deno.makeTempDir({ prefix: "latchkey-pg-" });
  if (runAs) await run("chown", [runAs, dataDirectory]);
  await run(`${binDirectory}/initdb`, [
    "-D",
    dataDirectory,
    "-U",
    "postgres",
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
  ].join(" ");
  const pgCtl = (...args: string[]) =>
    run(`${binDirectory}/pg_ctl`, ["-D", dataDirectory, "-w", "-t", "30", ...args], {
      user: runAs,
    });
  const startServer = () => pgCtl("-l", `${dataDirectory}/server.log`, "-o", settings, "start");
  await startServer();
  await run(`${binDirectory}/createdb`, [
    "-h",
    "127.0.0.1",
    "-p",
    String(port),
    "-U",
    "postgres",
    "latchkey_test",
  ]);
  return {
    kind: "ephemeral-cluster",
    url: `postgres://postgres@127.0.0.1:${port}/latchkey_test`,
    description: `ephemeral PostgreSQL cluster (${binDirectory}, port ${port})`,
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
  const embedded = await startEmbeddedDatabase(dataDirectory);
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
