import { freePort } from "./server.ts";

/**
 * PgBouncer in front of a test database, set up like Supabase's Dedicated Pooler: transaction
 * mode, and only `extra_float_digits` among the startup parameters it does not know (anything
 * else a client sends at connect time is refused, as hosted refuses it).
 */
export interface Pooler {
  /** The database URL through the pooler. */
  url: string;
  stop(): Promise<void>;
}

export async function startPgBouncer(
  pgBouncer: string,
  databaseUrl: string,
  options: { poolMode?: "transaction" | "session" } = {},
): Promise<Pooler> {
  const target = new URL(databaseUrl);
  const directory = await Deno.makeTempDir({ prefix: "latchkey-pgbouncer-" });
  const port = freePort();
  const user = decodeURIComponent(target.username);
  await Deno.writeTextFile(`${directory}/users.txt`, `"${user}" ""\n`);
  await Deno.writeTextFile(
    `${directory}/pgbouncer.ini`,
    [
      "[databases]",
      `* = host=${target.hostname} port=${target.port}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = trust",
      `auth_file = ${directory}/users.txt`,
      `pool_mode = ${options.poolMode ?? "transaction"}`,
      "ignore_startup_parameters = extra_float_digits",
      "max_client_conn = 1000",
      "default_pool_size = 20",
      `logfile = ${directory}/pgbouncer.log`,
      `pidfile = ${directory}/pgbouncer.pid`,
      "",
    ].join("\n"),
  );
  // PgBouncer refuses to run as root; as root it runs as the database's OS user.
  const asRoot = Deno.uid() === 0;
  if (asRoot) await new Deno.Command("chown", { args: ["-R", "postgres", directory] }).output();
  const [program, args] = asRoot
    ? ["runuser", ["-u", "postgres", "--", pgBouncer, `${directory}/pgbouncer.ini`]]
    : [pgBouncer, [`${directory}/pgbouncer.ini`]];
  const child = new Deno.Command(program, { args, stdout: "null", stderr: "null" }).spawn();
  const url = new URL(databaseUrl);
  url.port = String(port);
  const deadline = Date.now() + 10_000;
  while (true) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`PgBouncer did not start: ${directory}/pgbouncer.log`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    url: url.toString(),
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await Deno.remove(directory, { recursive: true }).catch(() => {});
    },
  };
}
