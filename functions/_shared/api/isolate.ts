import { adminKeyWarnings } from "../identity/static_admin_key.ts";
import { type Config, loadConfig } from "../config/config.ts";
import { createDatabase, type Sql } from "../db/database.ts";
import { configureLogs, log } from "../config/log.ts";
import { configurePasswordHashing } from "../passwords/passwords.ts";

/** What every request needs: the parsed configuration and the isolate's database client. */
export interface Runtime {
  config: Config;
  sql: Sql;
}

let current: Runtime | undefined;

/** Used by the local start command, which owns the database it created. */
export function installRuntime(runtime: Runtime): void {
  configureLogs(runtime.config);
  configurePasswordHashing({
    queueLimit: runtime.config.LATCHKEY_HASH_QUEUE_MAX,
    workers: runtime.config.LATCHKEY_HASH_WORKERS,
  });
  current = runtime;
  // Once per isolate (the start banner's neighbour on the gateway, the first log line hosted).
  for (const warning of adminKeyWarnings(runtime.config)) {
    log("warn", warning.code, { message: warning.message });
  }
}

/** The isolate's runtime; under the edge runtime it is built from the environment on first use. */
export function getRuntime(): Runtime {
  if (!current) {
    const config = loadConfig();
    installRuntime({ config, sql: createDatabase(config) });
  }
  return current!;
}
