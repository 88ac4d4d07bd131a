import { createDatabase } from "../_shared/db/database.ts";
import { flushLogs } from "../_shared/config/log.ts";
import { installRuntime } from "../_shared/api/isolate.ts";
import { latchkeyVersion } from "../_shared/ground/version.ts";
import { settlesWithin } from "../_shared/ground/settles_within.ts";
import { workAfterResponsesSettled } from "../_shared/ground/edge_runtime.ts";
import { loadConfigOrExit, openDatabaseTarget, serverHolder } from "./database_target.ts";
import { withDevelopmentSigningKey } from "./development_signing_key.ts";
import { withDevelopmentMfaKey } from "./development_mfa_key.ts";
import { functionsBasePath } from "../_shared/http/openapi.ts";
import { exampleFunctions, functionApps } from "./deployed_functions.ts";
import { gatewayHandler } from "./gateway.ts";
import { applyMigrations } from "./migrate.ts";
import { isLoopback, serveGateway } from "./serve.ts";
import { describeSeedOutcome, runSeed, SeedRefused } from "./seed.ts";
import { stopIdleHashWorkersAfter } from "../_shared/passwords/passwords.ts";

/** A hash worker idle this long stops, its memory with it; the next hash starts one (~50 ms). */
const idleHashWorkerMs = 60_000;

/**
 * `deno task start`: the whole service in one process, at the URLs the Supabase CLI uses,
 * on DATABASE_URL or, without one, an embedded PGlite.
 */
const signing = await withDevelopmentSigningKey(loadConfigOrExit());
const mfaKey = await withDevelopmentMfaKey(signing.config);
const config = mfaKey.config;
const target = await openDatabaseTarget(config, serverHolder);
const sql = createDatabase(config, { url: target.url, maxConnections: target.maxConnections });
const applied = await applyMigrations(sql);
let seeded: string;
try {
  seeded = describeSeedOutcome(await runSeed(sql, config), config);
} catch (error) {
  if (!(error instanceof SeedRefused)) throw error;
  console.error(`latchkey: ${error.message}. ${error.detail}`);
  await sql.end();
  await target.close();
  Deno.exit(1);
}
installRuntime({ config, sql });
stopIdleHashWorkersAfter(idleHashWorkerMs);

const server = await listenOrExit(() =>
  serveGateway(config, gatewayHandler, (port) => {
    const host = config.LATCHKEY_HOST === "0.0.0.0" || config.LATCHKEY_HOST === "127.0.0.1"
      ? "localhost"
      : config.LATCHKEY_HOST;
    const base = `http://${host}:${port}${functionsBasePath}`;
    const lines = [
      `Latchkey ${latchkeyVersion} (${config.LATCHKEY_ENV}) on Deno ${Deno.version.deno}`,
      `  database    ${target.description}`,
      `  migrations  ${applied.length ? `${applied.length} applied now` : "up to date"}`,
      `  seed        ${seeded}`,
      ...(signing.note ? [`  signing     ${signing.note}`] : []),
      ...(mfaKey.note ? [`  mfa key     ${mfaKey.note}`] : []),
      ...Object.keys(functionApps).map((name) => `  ${name.padEnd(10)}  ${base}/${name}`),
      `  examples    ${
        Object.keys(exampleFunctions).map((name) => `${base}/${name}`).join(", ")
      } (your own functions behind Latchkey: packages/with-latchkey)`,
      `  docs        ${base}/docs (OpenAPI: ${base}/openapi.json)`,
      ...(isLoopback(config.LATCHKEY_HOST) ? [] : [
        `  deadlines   ${config.LATCHKEY_HEADER_TIMEOUT_SECONDS} s for request headers, ` +
        `${config.LATCHKEY_REQUEST_TIMEOUT_SECONDS} s per request (one per connection)`,
      ]),
      "Press Ctrl-C to stop.",
    ];
    console.log(lines.join("\n"));
  })
);

/** The gateway listening, or one line saying what is in the way and how to fix it. */
async function listenOrExit<T>(listen: () => T): Promise<T> {
  try {
    return listen();
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    console.error(
      `latchkey: ${config.LATCHKEY_HOST}:${config.LATCHKEY_PORT} is already in use (another ` +
        "`deno task start`?). Stop that process, or pick a free port: LATCHKEY_PORT=54329 " +
        "deno task start",
    );
    // The database was opened for nothing: close it so the data directory is left clean.
    await sql.end();
    await target.close();
    Deno.exit(1);
  }
}

/**
 * How long requests in flight get to finish after a stop signal. `shutdown()` alone can wait
 * forever: for a request whose client never sends the rest of its body, and once on Deno 2.1
 * after a database outage, with one client connection still open (the process outlived its
 * SIGTERM by minutes; an idle keep-alive connection alone does not do it).
 */
const drainMs = 5_000;

let stopping = false;
async function stop(signal: Deno.Signal) {
  if (stopping) return;
  stopping = true;
  flushLogs();
  console.log(`Received ${signal}; stopping.`);
  if (!await settlesWithin(server.shutdown(), drainMs)) {
    console.log(`Connections still open after ${drainMs / 1000} s; stopping anyway.`);
  }
  // Work begun after answers (an account's reset mail, a first verification link) ends first.
  await settlesWithin(workAfterResponsesSettled(), drainMs);
  await sql.end({ timeout: 5 });
  await target.close();
  Deno.exit(0);
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => void stop(signal));
}
