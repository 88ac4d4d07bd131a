import { adminKeyWarnings } from "../identity/static_admin_key.ts";
import { loadConfig } from "../config/config.ts";
import { createDatabase } from "../db/database.ts";
import type { Runtime } from "../db/runtime.ts";
import { configureLogs, log } from "../config/log.ts";
import { configurePasswordHashing } from "../passwords/passwords.ts";

/** The isolate's one runtime: installed by the local start command, or built on first use. */
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
