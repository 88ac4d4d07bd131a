import { functionApps } from "../../functions/_local/deployed_functions.ts";
import { loadConfig } from "../../functions/_shared/config/config.ts";
import { createDatabase } from "../../functions/_shared/db/database.ts";
import { installRuntime } from "../../functions/_shared/api/isolate.ts";
import type { OutboundNetwork } from "../../functions/_shared/db/runtime.ts";
import { workAfterResponsesSettled } from "../../functions/_shared/ground/edge_runtime.ts";
import { databaseActivity } from "./database_activity.ts";

/**
 * Every deployed function (functions/_local/deployed_functions.ts) in this process, as one edge isolate would run them,
 * over real HTTP on the test database with a configuration of the test's own (the suite's
 * gateway keeps its own). Paths are the function's: `/auth/...`, `/orgs/...`, `/admin/...`.
 */
export interface InProcessFunctions {
  base: string;
  call(
    method: string,
    path: string,
    headers?: Record<string, string>,
    body?: unknown,
    // deno-lint-ignore no-explicit-any -- tests read whatever the route answered
  ): Promise<{ status: number; headers: Headers; body: any }>;
  /** `fetch` over the same connections as `call` (closed with the server), for other bodies. */
  fetch(input: string | URL, init?: RequestInit): Promise<Response>;
  /** Resolves once the work the answers left behind (mail, writes after the answer) is done. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/** Calls over `client` to the functions at `base`, JSON both ways. */
export function jsonCaller(base: string, client: Deno.HttpClient): InProcessFunctions["call"] {
  return async (method, path, headers = {}, body) => {
    // A call that never answers fails here, naming itself, rather than holding its test until
    // the runner kills the whole part.
    const deadline = AbortSignal.timeout(callDeadlineMs);
    try {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: { ...(body ? { "content-type": "application/json" } : {}), ...headers },
        body: body ? JSON.stringify(body) : undefined,
        client,
        signal: deadline,
      });
      return { status: response.status, headers: response.headers, body: await response.json() };
    } catch (error) {
      if (!deadline.aborted) throw error;
      throw new Error(
        `${method} ${path}: no answer within ${callDeadlineMs / 1000} s\n` +
          await testDatabaseActivity("then"),
      );
    }
  };
}

/** What the test database's sessions were doing, for a deadline's error. */
function testDatabaseActivity(when: string): Promise<string> {
  const url = Deno.env.get("LATCHKEY_TEST_SUPERUSER_URL") ??
    Deno.env.get("LATCHKEY_TEST_DATABASE_URL");
  return url ? databaseActivity(url, when) : Promise.resolve("");
}

/** Far beyond any route's time (the statement timeout is 5 s), far below the runner's 300 s. */
const callDeadlineMs = 60_000;

/** `work`, or an error saying what did not finish within `ms`. */
async function settlesWithin(work: Promise<void>, ms: number, what: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      work,
      new Promise<never>((_, reject) =>
        timer = setTimeout(
          () =>
            testDatabaseActivity("then").then((activity) =>
              reject(new Error(`${what} within ${ms / 1000} s\n${activity}`))
            ),
          ms,
        )
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `network`: the isolate's outbound network (its name resolver, the CAs it trusts), so a test
 * decides what a webhook's host resolves to without any lookup leaving the machine.
 */
export function serveFunctions(
  env: Record<string, string>,
  network?: OutboundNetwork,
): InProcessFunctions {
  // The test database unless the test names one (as hosted does, through SUPABASE_DB_URL).
  const database = env.SUPABASE_DB_URL || env.LATCHKEY_DB_URL
    ? {}
    : { LATCHKEY_DB_URL: Deno.env.get("LATCHKEY_TEST_DATABASE_URL")! };
  const config = loadConfig({ ...database, LATCHKEY_LOG_LEVEL: "silent", ...env });
  const sql = createDatabase(config);
  installRuntime({ config, sql, network });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const name = new URL(request.url).pathname.split("/")[1];
    return (functionApps[name] ?? functionApps.auth).fetch(request);
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  // The test's own connection pool, closed before the server shuts down: Deno 2.1's graceful
  // shutdown otherwise waited about three minutes on the flood test's idle keep-alive connections.
  const client = Deno.createHttpClient({});
  return {
    base,
    call: jsonCaller(base, client),
    fetch: (input, init) => fetch(input, { ...init, client }),
    // A send begun after an answer is such work too (continueAfterResponse), resends included.
    settled: workAfterResponsesSettled,
    async close() {
      client.close();
      await settlesWithin(server.shutdown(), callDeadlineMs, "the server did not shut down");
      // Mail the requests queued is sent in the background: let it finish first, with a timer
      // of our own keeping the event loop up (nodemailer waits on unref'd ones, which Deno 2.1
      // does not wait for).
      const keepAlive = setInterval(() => {}, 20);
      try {
        await settlesWithin(
          workAfterResponsesSettled(),
          callDeadlineMs,
          "the work the answers began (mail, webhooks, writes after answers) did not settle",
        );
      } finally {
        clearInterval(keepAlive);
      }
      await settlesWithin(sql.end({ timeout: 5 }), callDeadlineMs, "the pool did not end");
    },
  };
}
