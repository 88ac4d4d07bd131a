import { type Config, ConfigError, databaseUrl, loadConfig } from "../_shared/config/config.ts";
import { createDatabase, type Sql } from "../_shared/db/database.ts";
import { EmbeddedDatabaseBusy, type EmbeddedHolder, embeddedHolder } from "./embedded_holder.ts";

const gatewayPoolSize = 10;

/** The database the local commands use: the configured URL, else the embedded PGlite. */
export interface DatabaseTarget {
  url: string;
  description: string;
  maxConnections: number;
  close(): Promise<void>;
}

/**
 * `holder` names who asks: "deno task start" serves the embedded database to others; a task
 * uses the running server's when there is one, and opens the files itself only when nobody has.
 */
export async function openDatabaseTarget(config: Config, holder: string): Promise<DatabaseTarget> {
  const url = databaseUrl(config);
  if (url) {
    return {
      url,
      description: `PostgreSQL at ${redactUrl(url)}`,
      // One process serves every request here, unlike the edge runtime's many isolates.
      maxConnections: config.LATCHKEY_DB_POOL_MAX ?? gatewayPoolSize,
      close: () => Promise.resolve(),
    };
  }
  // Loaded only when needed: PGlite is megabytes of JavaScript and WASM a server on a real
  // PostgreSQL should not carry.
  const directory = config.LATCHKEY_DATA_DIR;
  const running = holder === serverHolder ? null : await runningServer(directory);
  if (running) {
    return {
      url: running.url,
      description: `the embedded PGlite of the running server (process ${running.pid}) at ` +
        running.url,
      maxConnections: 1,
      close: () => Promise.resolve(),
    };
  }
  const { startEmbeddedDatabase } = await import("./embedded_database.ts");
  try {
    const embedded = await startEmbeddedDatabase(directory, holder);
    return {
      url: embedded.url,
      description: `embedded PGlite in ${directory}/pgdata (psql ${embedded.url})`,
      maxConnections: 1,
      close: embedded.close,
    };
  } catch (error) {
    if (!(error instanceof EmbeddedDatabaseBusy)) throw error;
    console.error(`latchkey: ${error.message}`);
    Deno.exit(1);
  }
}

/** Who the server is, in the embedded database's holder file. */
export const serverHolder = "deno task start";

/** The server holding the embedded database, once it serves it (it may be starting). */
async function runningServer(directory: string): Promise<EmbeddedHolder | null> {
  for (let waited = 0; waited < 30_000; waited += 200) {
    const current = await embeddedHolder(directory);
    if (current?.holder !== serverHolder) return null;
    if (current.url) return current;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return null;
}

export function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}

/** Loads the configuration or exits with one line per bad variable. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) console.error(`latchkey: ${problem}`);
    Deno.exit(2);
  }
}

/** For one-shot tasks: opens the database, runs `work`, closes everything. */
export async function runWithDatabase(
  task: string,
  work: (sql: Sql, target: DatabaseTarget, config: Config) => Promise<void>,
): Promise<void> {
  const config = loadConfigOrExit();
  const target = await openDatabaseTarget(config, task);
  const sql = createDatabase(config, { url: target.url, maxConnections: target.maxConnections });
  try {
    await work(sql, target, config);
  } finally {
    await sql.end({ timeout: 5 });
    await target.close();
  }
}
