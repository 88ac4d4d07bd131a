import { type Config, ConfigError, databaseUrl, loadConfig } from "../_shared/config/config.ts";
import { createDatabase, type Sql } from "../_shared/db/database.ts";

const gatewayPoolSize = 10;

/** The database the local commands use: the configured URL, else the embedded PGlite. */
export interface DatabaseTarget {
  url: string;
  description: string;
  maxConnections: number;
  close(): Promise<void>;
}

export async function openDatabaseTarget(config: Config): Promise<DatabaseTarget> {
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
  const { startEmbeddedDatabase } = await import("./embedded_database.ts");
  const embedded = await startEmbeddedDatabase(config.LATCHKEY_DATA_DIR);
  return {
    url: embedded.url,
    description: `embedded PGlite in ${config.LATCHKEY_DATA_DIR}/pgdata`,
    maxConnections: 1,
    close: embedded.close,
  };
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
  work: (sql: Sql, target: DatabaseTarget, config: Config) => Promise<void>,
): Promise<void> {
  const config = loadConfigOrExit();
  const target = await openDatabaseTarget(config);
  const sql = createDatabase(config, { url: target.url, maxConnections: target.maxConnections });
  try {
    await work(sql, target, config);
  } finally {
    await sql.end({ timeout: 5 });
    await target.close();
  }
}
