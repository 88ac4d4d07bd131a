import type { Config } from "../config/config.ts";
import type { Sql } from "./database.ts";

/**
 * What every request needs: the parsed configuration and the isolate's database client. Built
 * once per isolate (api/isolate.ts); everything below the routes is handed it.
 */
export interface Runtime {
  config: Config;
  sql: Sql;
}
