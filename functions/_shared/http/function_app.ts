import { type Context, Hono, type MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { getPath } from "hono/utils/url";
import { requestId } from "hono/request-id";
import { describeError, log, logEnabled } from "../config/log.ts";
import { isDatabaseUnavailable, sqlState } from "../db/database.ts";
import type { Runtime } from "../db/runtime.ts";
import { ApiError, type ErrorCode, errorEnvelope, oauthErrorBody } from "../ground/errors.ts";
import type { AppEnv } from "./context.ts";
import { functionRelativePath } from "./request.ts";

/**
 * The path a function routes on: `/<name>/...`, as the edge runtime hands it over, also when
 * the local gateway passes on a request for `/functions/v1/<name>/...` as it came (no copy of
 * every request just to rewrite its URL). Audit rows record `/<name>/...` too.
 */
function functionPath(request: Request): string {
  return functionRelativePath(getPath(request));
}

/**
 * What the shell is handed by the code above it (api/routes.ts): the isolate's runtime and the
 * domain's work around each request. The shell imports no domain module: the first admin, audit
 * pruning and mail delivery are the domain's, and reach the shell only through here.
 */
export interface FunctionAppWiring {
  /** The isolate's runtime, asked for at the start of every request. */
  runtime: () => Runtime;
  /**
   * Awaited in order before the route, after the CORS and body-limit checks (so a preflight
   * still passes and a database that is down answers the usual 503).
   */
  beforeRoute: readonly ((runtime: Runtime) => Promise<void>)[];
  /** Started in order once the route has answered, never awaited by the request. */
  afterResponse: readonly ((runtime: Runtime) => void)[];
}

/**
 * A function's Hono app under `/<name>`, with what every function shares: request ids,
 * security headers, the body limit, one JSON line per request and the error envelope.
 */
export function createFunctionApp(name: string, wiring: FunctionAppWiring): Hono<AppEnv> {
  const app = new Hono<AppEnv>({ getPath: functionPath }).basePath(`/${name}`);
  app.use(requestId({ generator: () => crypto.randomUUID() }));
  app.use(async (c, next) => {
    const started = performance.now();
    c.set("runtime", wiring.runtime());
    // Before the route, so a route may override one (the JWKS is cacheable). Set after it, a
    // header makes Hono copy the finished response (measured: 9% of the JS thread's time).
    for (const [header, value] of apiResponseHeaders) c.header(header, value);
    await next();
    // Answered without reading its body (a refusal, a route that takes none): the server will
    // not read it either, and a connection with unread bytes cannot carry another request. Say
    // so, or a client reuses it and its next request meets a closed connection (seen with Deno
    // 2.1 on both sides). Set in place: the finished response is not copied.
    if (c.req.raw.body !== null && !c.req.raw.bodyUsed) c.res.headers.set("Connection", "close");
    if (!logEnabled("info")) return;
    const principal = c.get("principal");
    log("info", "request", {
      requestId: c.get("requestId"),
      method: c.req.method,
      path: c.req.routePath,
      status: c.res.status,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
      principal: principal ? { kind: principal.kind, id: principal.credentialId } : null,
    });
  });
  // The request's URL is built from its Host header: one that is not a host (a port out of
  // range, a space) would make every later `new URL(c.req.url)` throw, mid-route.
  app.use((c, next) => {
    if (!URL.canParse(c.req.url)) {
      throw new ApiError("validation_failed", {
        message: "The Host header is not a valid host.",
        details: [{
          path: "Host",
          message: "Send a host name or address, with a port up to 65535.",
        }],
      });
    }
    return next();
  });
  app.use((c, next) => {
    const origin = c.req.header("origin");
    const allowed = c.get("runtime").config.LATCHKEY_CORS_ORIGINS;
    // Only listed origins get CORS headers at all, credentials included.
    if (origin && allowed.includes(origin)) return corsFor(allowed)(c, next);
    return next();
  });
  app.use((c, next) => bodyLimitFor(c.get("runtime").config.LATCHKEY_BODY_LIMIT_BYTES)(c, next));
  // Last before the routes: a database that is down answers the usual 503, preflights still pass.
  app.use(async (c, next) => {
    for (const work of wiring.beforeRoute) await work(c.get("runtime"));
    await next();
    for (const work of wiring.afterResponse) work(c.get("runtime"));
  });
  app.onError(respondWithError);
  app.notFound((c) => respondWithError(new ApiError("not_found"), c));
  return app;
}

/**
 * What every API response carries: OWASP's set for REST APIs. Not hono's secureHeaders: it
 * writes a document's headers (cross-origin isolation, DNS prefetch, legacy IE and Flash, XSS
 * auditor) onto JSON, after the route, into the finished response.
 */
const apiResponseHeaders: readonly [string, string][] = [
  ["Cache-Control", "no-store"],
  ["Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"],
  ["Strict-Transport-Security", "max-age=15552000; includeSubDomains"],
  ["X-Content-Type-Options", "nosniff"],
  ["X-Frame-Options", "DENY"],
  ["Referrer-Policy", "no-referrer"],
];

/** The API's headers for a response made outside a function's app (the gateway's own). */
export function apiHeadersWithRequestId(requestId: string): [string, string][] {
  return [...apiResponseHeaders, ["x-request-id", requestId]];
}

let corsMiddleware: { origins: string[]; handler: MiddlewareHandler } | undefined;

function corsFor(origins: string[]): MiddlewareHandler {
  if (corsMiddleware?.origins !== origins) {
    corsMiddleware = {
      origins,
      handler: cors({
        origin: origins,
        credentials: true,
        allowHeaders: [
          "authorization",
          "content-type",
          "x-api-key",
          "idempotency-key",
          "x-request-id",
          "x-client-info",
          "apikey",
        ],
        exposeHeaders: [
          "x-request-id",
          "retry-after",
          "ratelimit-limit",
          "ratelimit-remaining",
          "ratelimit-reset",
          "idempotency-replayed",
        ],
        maxAge: 600,
      }),
    };
  }
  return corsMiddleware.handler;
}

const bodyLimits = new Map<number, MiddlewareHandler>();

// The limit comes from the runtime's configuration, known only once a request arrives; the
// middleware is built once per limit, not per request (this is on the hot path).
function bodyLimitFor(maxSize: number): MiddlewareHandler {
  let limiter = bodyLimits.get(maxSize);
  if (!limiter) {
    limiter = limitBody(maxSize);
    bodyLimits.set(maxSize, limiter);
  }
  return limiter;
}

/**
 * 413 for a body over `maxSize`, before anything reads it: by its Content-Length, or, for a body
 * sent in chunks, by reading it up to the limit. Hono's bodyLimit does the same but then copies
 * the request with `new Request(request, …)`, which reads the request's signal: Deno 2.9 then
 * logs its "request.signal aborts on successful responses (legacy behavior)" warning once per
 * process, about a signal nothing here uses. The copy made here carries everything but it.
 */
function limitBody(maxSize: number): MiddlewareHandler {
  return async (c, next) => {
    const request = c.req.raw;
    if (!request.body) return next();
    const length = request.headers.get("content-length");
    if (length !== null && !request.headers.has("transfer-encoding")) {
      if (Number(length) > maxSize) throw new ApiError("payload_too_large");
      return next();
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of request.body) {
      size += chunk.length;
      if (size > maxSize) throw new ApiError("payload_too_large");
      chunks.push(chunk);
    }
    const body = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) {
      body.set(chunk, offset);
      offset += chunk.length;
    }
    c.req.raw = new Request(request.url, {
      method: request.method,
      headers: request.headers,
      body,
    });
    return next();
  };
}

/** Maps anything thrown to the error envelope; only a bug becomes a 500. */
export function respondWithError(thrown: unknown, c: Context<AppEnv>): Response {
  const error = toApiError(thrown);
  if (error.status >= 500 || error.cause) {
    // 503 is the database's state and a 4xx with a database cause is unvalidated input:
    // warnings. Only a 500 is an error (a bug).
    log(error.status === 500 ? "error" : "warn", "request_failed", {
      requestId: c.get("requestId"),
      code: error.code,
      ...describeError(error.cause ?? thrown),
    });
  }
  const headers: Record<string, string> = { "Cache-Control": "no-store", ...error.headers };
  const oauth = c.get("oauthErrors") === true;
  if (error.status === 401) {
    // OAuth's token request authenticates its client with HTTP Basic (RFC 6749 §5.2).
    headers["WWW-Authenticate"] = oauth
      ? 'Basic realm="latchkey", charset="UTF-8"'
      : 'Bearer realm="latchkey"';
  }
  if (error.status === 503) headers["Retry-After"] ??= "1";
  if (oauth) {
    headers["Pragma"] = "no-cache";
    return c.json(oauthErrorBody(error, c.get("requestId")), error.status as 400, headers);
  }
  return c.json(errorEnvelope(error, c.get("requestId")), error.status as 400, headers);
}

/** The error codes a P0001 raised by our SQL may name in its hint. */
const sqlRefusals: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "last_admin",
  "step_up_required",
  "last_owner",
  "org_suspended",
  "already_member",
  "built_in",
  "in_use",
]);

function toApiError(thrown: unknown): ApiError {
  if (thrown instanceof ApiError) return thrown;
  if (isDatabaseUnavailable(thrown)) return new ApiError("database_unavailable", { cause: thrown });
  // The database refused: a policy, a grant or a guard trigger. Routes check permissions
  // first, so this is defence in depth answering as such, not a crash.
  const state = sqlState(thrown);
  if (state === "42501") return new ApiError("forbidden", { cause: thrown });
  // Our SQL's refusals name their error code as the exception's hint: the last admin or an
  // organization's last owner, a dangerous change by a session that has not stepped up
  // (latchkey.require_step_up), a suspended organization, a member invited again.
  const hint = (thrown as { hint?: string }).hint;
  if (state === "P0001" && hint !== undefined && sqlRefusals.has(hint as ErrorCode)) {
    // `in_use` counts the holders in words our SQL wrote for the client (guard_role_changes,
    // guard_permission_changes): names and numbers, nothing else.
    const message = hint === "in_use" ? (thrown as Error).message : undefined;
    return new ApiError(hint as ErrorCode, { cause: thrown, message });
  }
  // Input the schemas should have caught (a value PostgreSQL cannot store or a constraint it
  // breaks) is still the client's input: 400, logged as a warning so we tighten the schema. A
  // foreign key names something that is not there (a role deleted while it was being given).
  if (state?.startsWith("22") || state === "23502" || state === "23514" || state === "23503") {
    return new ApiError("validation_failed", {
      message: "The request has a value that cannot be stored.",
      cause: thrown,
    });
  }
  return new ApiError("internal_error", { cause: thrown });
}
