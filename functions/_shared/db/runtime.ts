import type { Config } from "../config/config.ts";
import type { Sql } from "./database.ts";

/**
 * What every request needs: the parsed configuration and the isolate's database client. Built
 * once per isolate (api/isolate.ts); everything below the routes is handed it.
 */
export interface Runtime {
  config: Config;
  sql: Sql;
  /** How the isolate reaches other hosts; unset: the system's resolver and CAs. */
  network?: OutboundNetwork;
}

/**
 * The outbound network as a test sets it up: its own name resolver (a stub whose answers it
 * chooses, so no name is looked up off the machine) and CAs its receivers' certificates chain to.
 */
export interface OutboundNetwork {
  /** The IPv4 and IPv6 addresses of a host name. */
  resolve?: (hostname: string) => Promise<string[]>;
  /** PEM CAs trusted for outbound TLS, besides the system's. */
  caCerts?: string[];
}
