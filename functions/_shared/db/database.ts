import { checkServerIdentity, type ConnectionOptions } from "node:tls";
import postgres from "postgres";
import { type Config, databaseUrl } from "../config/config.ts";
import { denoTlsSocket, needsDenoTls } from "./deno_tls.ts";
import { installPortImmediates, needsPortImmediates } from "./deno_timers.ts";
import { ApiError } from "../ground/errors.ts";
import { type Principal, secondFactorVerifiedAt } from "../ground/principal.ts";

// Before any client exists: on Deno 2.1, postgres.js crashes the process under load without it.
if (needsPortImmediates) installPortImmediates();

export type Sql = postgres.Sql;
export type Transaction = postgres.TransactionSql;

/** Where a request came from; stored with every audit event it causes. */
export interface RequestInfo {
  requestId: string;
  ip: string | null;
  userAgent: string | null;
  /**
   * The notification mail kinds enabled (LATCHKEY_NOTIFY), comma-separated: the one writer of
   * audit rows queues a kind's mail when the change's event causes it (SQL, account
   * notifications). Unset or empty: none.
   */
  notify?: string;
  /** At most this many of each kind to one account an hour (LATCHKEY_NOTIFY_MAX_PER_HOUR). */
  notifyPerHour?: number;
}

export interface DatabaseOptions {
  url?: string;
  /** PGlite serves one connection at a time. */
  maxConnections?: number;
}

/** Connections per isolate when LATCHKEY_DB_POOL_MAX is unset: edge isolates are many and small. */
export const defaultPoolSize = 2;

/**
 * Query parameters that are hints to other clients (Prisma's `pgbouncer=true` and pool
 * settings) rather than PostgreSQL settings: postgres.js would send them as startup
 * parameters, and the server refuses unknown ones ("unrecognized configuration parameter").
 */
const clientHints = ["pgbouncer", "connection_limit", "pool_timeout", "statement_cache_size"];

/** The URL without client hints; what the server is sent. */
export function serverUrl(url: string): string {
  const parsed = new URL(url);
  for (const hint of clientHints) parsed.searchParams.delete(hint);
  return parsed.toString();
}

/**
 * TLS: with LATCHKEY_DB_CA_CERT, verified against that CA, host name included (unless the URL
 * says sslmode=disable); otherwise as the URL's sslmode says (`require` encrypts without
 * verifying, `verify-full` verifies against the system's CAs), which postgres.js reads itself.
 */
export function tlsOptions(config: Config, url: string): { ssl?: ConnectionOptions } {
  const parsed = new URL(url);
  if (!config.LATCHKEY_DB_CA_CERT || parsed.searchParams.get("sslmode") === "disable") return {};
  // The host as written in the URL: for an IP address postgres.js sends no server name, and
  // the TLS layer would then check the certificate against "localhost".
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  return {
    ssl: {
      ca: config.LATCHKEY_DB_CA_CERT,
      checkServerIdentity: (_name, certificate) => checkServerIdentity(host, certificate),
    },
  };
}

/**
 * The same TLS on Deno 2.1, where postgres.js' own upgrade never completes (deno_tls.ts): a
 * connection of ours through postgres.js' `socket` option, postgres.js told not to negotiate TLS
 * again. TLS when `tlsOptions` sets it or the URL's sslmode asks for it (`prefer` and `allow` fall
 * back to plain text if the server has no TLS, as in postgres.js); always verified, with the
 * configured CA (besides the system's) and the host as written in the URL.
 */
export function denoTlsOptions(config: Config, url: string): { ssl?: false; socket?: unknown } {
  const parsed = new URL(url);
  const ca = tlsOptions(config, url).ssl?.ca as string | undefined;
  const sslmode = parsed.searchParams.get("sslmode") ??
    (parsed.searchParams.get("sslrootcert") === "system" ? "verify-full" : null);
  const wanted = ca !== undefined || (sslmode !== null && !["disable", "false"].includes(sslmode));
  if (!wanted || !parsed.hostname) return {};
  return {
    ssl: false,
    socket: denoTlsSocket({
      hostname: parsed.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: Number(parsed.port || 5432),
      caCerts: ca === undefined ? [] : [ca],
      prefer: ca === undefined && (sslmode === "prefer" || sslmode === "allow"),
      encryptOnly: ca === undefined && ["require", "prefer", "allow"].includes(sslmode ?? ""),
      direct: parsed.searchParams.get("sslnegotiation") === "direct",
    }),
  };
}

/** One client per isolate, created at start-up and shared by every request. */
export function createDatabase(config: Config, options: DatabaseOptions = {}): Sql {
  const url = options.url ?? databaseUrl(config);
  if (!url) {
    throw new ApiError("database_unavailable", {
      cause: new Error("none of LATCHKEY_DB_URL, SUPABASE_DB_URL and DATABASE_URL is set"),
    });
  }
  const sql = postgres(serverUrl(url), {
    ...(needsDenoTls ? denoTlsOptions(config, url) : tlsOptions(config, url)),
    max: options.maxConnections ?? config.LATCHKEY_DB_POOL_MAX ?? defaultPoolSize,
    prepare: usePreparedStatements(config, url),
    // Without these, a request to a stopped database hangs for many seconds (DESIGN.md).
    connect_timeout: config.LATCHKEY_DB_CONNECT_TIMEOUT_SECONDS,
    // postgres.js waits up to 20 s between reconnects by default, and queued requests wait
    // with it; capped at half a second, a request during an outage still fails within 2 s.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 0.5),
    idle_timeout: 60,
    max_lifetime: 30 * 60,
    // Nothing but application_name at connect time: a transaction pooler drops startup
    // parameters (Supavisor) or refuses the connection over them (PgBouncer as Supabase's
    // Dedicated Pooler: "unsupported startup parameter: statement_timeout"). The statement
    // timeout is set per transaction (withCaller) or kept by the client (withStatementTimeout).
    connection: { application_name: "latchkey" },
    onnotice: () => {},
  });
  statementTimeouts.set(sql, config.LATCHKEY_DB_STATEMENT_TIMEOUT_MS);
  stepUpWindows.set(sql, config.LATCHKEY_STEP_UP_MINUTES * 60);
  return sql;
}

const statementTimeouts = new WeakMap<Sql, number>();
/** LATCHKEY_STEP_UP_MINUTES in seconds, as the caller state carries it (withCaller). */
const stepUpWindows = new WeakMap<Sql, number>();

/**
 * One statement outside a transaction, under the statement timeout: there is no transaction to
 * set it in and a pooler would not keep it for the session, so the client keeps the time and
 * cancels the statement when it runs out (PostgreSQL answers 57014, a 503). Cancel requests
 * pass through PgBouncer and Supavisor to the server connection running the statement; one
 * still waiting for a connection is dropped from the queue.
 */
export async function withStatementTimeout<T extends readonly postgres.MaybeRow[]>(
  sql: Sql,
  query: postgres.PendingQuery<T>,
): Promise<postgres.RowList<T>> {
  const timer = setTimeout(() => query.cancel(), statementTimeouts.get(sql) ?? 5000);
  try {
    return await query;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Prepared statements roughly double the hot path's throughput (measured: 6,500 to 12,000
 * key checks a second), but a transaction pooler (Supavisor or PgBouncer on port 6543, or
 * `pgbouncer=true` in the URL) may hand each transaction another server connection, where the
 * statement does not exist. `auto` turns them off exactly there.
 */
export function usePreparedStatements(config: Config, url: string): boolean {
  if (config.LATCHKEY_DB_PREPARE !== "auto") return config.LATCHKEY_DB_PREPARE === "true";
  const parsed = new URL(url);
  const viaTransactionPooler = parsed.port === "6543" ||
    parsed.searchParams.get("pgbouncer") === "true";
  return !viaTransactionPooler;
}

/**
 * Runs route queries as the caller: one transaction that switches to our own NOLOGIN role
 * `latchkey_caller` and sets the caller the RLS policies read and the statement timeout (a
 * setting of the transaction, so it holds through a transaction pooler), in a single statement,
 * before `work` runs. The caller lives in `latchkey.caller`, a setting of our namespace, not in
 * `request.jwt.claims`, which PostgREST fills from any JWT a project accepts.
 */
export async function withCaller<T>(
  sql: Sql,
  principal: Principal | null,
  request: RequestInfo,
  work: (tx: Transaction) => Promise<T>,
): Promise<T> {
  const timeoutMs = String(statementTimeouts.get(sql) ?? 5000);
  const caller = JSON.stringify({
    sub: principal?.userId ?? null,
    app_role: principal?.role ?? null,
    principal_kind: principal?.kind ?? "anonymous",
    credential_id: principal?.credentialId ?? null,
    // Effective permissions (an API key's scopes within its owner's role): RLS checks these
    // too, so a narrowly scoped key cannot do in SQL what its owner could.
    permissions: principal?.permissions ?? [],
    // When the session last verified a second factor, and how long that counts as a step-up:
    // the database refuses dangerous changes of a session without one (latchkey.require_step_up).
    second_factor_at: secondFactorVerifiedAt(principal?.session ?? null),
    step_up_seconds: stepUpWindows.get(sql) ?? 600,
    // The session's assurance, and whether its role needs a second factor it has not given:
    // PostgreSQL then grants none of those permissions (latchkey.caller_awaits_second_factor),
    // so a route that forgot to ask still cannot use them. A session principal that was never
    // through authentication (no flag) counts as awaiting one when it is at aal1.
    aal: principal?.kind === "session" ? principal.session?.aal ?? "aal1" : null,
    mfa_required: principal?.kind === "session" &&
      (principal.awaitsSecondFactor ?? principal.session?.aal !== "aal2"),
  });
  const result = await sql.begin(async (tx) => {
    await tx`
      select set_config('role', 'latchkey_caller', true),
        set_config('statement_timeout', ${timeoutMs}, true),
        set_config('latchkey.caller', ${caller}, true),
        set_config('latchkey.request', ${JSON.stringify(request)}, true)`;
    return await work(tx);
  });
  return result as T;
}

/** The request context as the jsonb parameter the SQL functions take for their audit rows. */
export function requestJson(sql: Sql, request: RequestInfo) {
  return sql.json({ ...request });
}

// SQLSTATEs that mean "the database cannot serve us now", not "this request is wrong".
const unavailableSqlStates = new Set([
  "57014", // query_canceled: statement_timeout fired
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up or shutting down)
  "53300", // too_many_connections
  "53400", // configuration_limit_exceeded
  "08000",
  "08003",
  "08006",
  "08001",
  "08004",
]);

const unavailableClientCodes = new Set([
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EHOSTUNREACH",
]);

// The socket calls whose failure means the connection, not the request, failed. Deno 2.1's
// node:net reports a write to a connection PostgreSQL dropped as `write UNKNOWN` (code
// "UNKNOWN", syscall "write") where Node and Deno 2.9 say EPIPE or ECONNRESET.
const socketCalls = new Set(["connect", "read", "write"]);

/** True when an error thrown by postgres.js means the database is down or overloaded. */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const code = String((error as { code?: unknown }).code ?? "");
  if (unavailableSqlStates.has(code) || unavailableClientCodes.has(code)) return true;
  if (socketCalls.has(String((error as { syscall?: unknown }).syscall ?? ""))) return true;
  const errno = String((error as { errno?: unknown }).errno ?? "");
  return unavailableClientCodes.has(errno) || error instanceof Deno.errors.ConnectionRefused;
}

/** SQLSTATE of a database error, if it is one. */
export function sqlState(error: unknown): string | undefined {
  if (error instanceof postgres.PostgresError) return error.code;
  return undefined;
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
