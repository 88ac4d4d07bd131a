import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { getPath } from "hono/utils/url";
import { requestId } from "hono/request-id";
import type { z } from "zod";
import {
  isDatabaseUnavailable,
  type RequestInfo,
  sqlState,
  type Transaction,
  withCaller,
} from "../db/database.ts";
import { clientGroup } from "./client_groups.ts";
import { ApiError, type ErrorDetail, errorEnvelope } from "../ground/errors.ts";
import { deliverMailInBackground } from "../mail/outbox.ts";
import { pruneAuditInBackground } from "../audit/audit_retention.ts";
import { ensureFirstAdmin } from "../accounts/first_admin.ts";
import { functionsBasePath } from "./openapi.ts";
import { describeError, log, logEnabled } from "../config/log.ts";
import type { Principal } from "../ground/principal.ts";
import { getRuntime, type Runtime } from "../api/isolate.ts";

export interface AppEnv {
  Variables: {
    requestId: string;
    runtime: Runtime;
    principal: Principal;
    /** The route declared `idempotent` (routes.ts), so it may honour Idempotency-Key. */
    idempotent: boolean;
  };
}

export type AppContext = Context<AppEnv>;

const gatewayPrefix = `${functionsBasePath}/`;

/**
 * The path a function routes on: `/<name>/...`, as the edge runtime hands it over, also when
 * the local gateway passes on a request for `/functions/v1/<name>/...` as it came (no copy of
 * every request just to rewrite its URL). Audit rows record `/<name>/...` too.
 */
function functionPath(request: Request): string {
  return withinFunction(getPath(request));
}

/** `/functions/v1/<name>/...` (the local gateway's URL) as `/<name>/...`; others unchanged. */
export function withinFunction(path: string): string {
  return path.startsWith(gatewayPrefix) ? path.slice(gatewayPrefix.length - 1) : path;
}

/**
 * A function's Hono app under `/<name>`, with what every function shares: request ids,
 * security headers, the body limit, one JSON line per request and the error envelope.
 */
export function createFunctionApp(name: string): Hono<AppEnv> {
  const app = new Hono<AppEnv>({ getPath: functionPath }).basePath(`/${name}`);
  app.use(requestId({ generator: () => crypto.randomUUID() }));
  app.use(async (c, next) => {
    const started = performance.now();
    c.set("runtime", getRuntime());
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
    await ensureFirstAdmin(c.get("runtime"));
    await next();
    pruneAuditInBackground(c.get("runtime"));
    deliverMailInBackground(c.get("runtime"));
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
    limiter = bodyLimit({
      maxSize,
      onError: () => {
        throw new ApiError("payload_too_large");
      },
    });
    bodyLimits.set(maxSize, limiter);
  }
  return limiter;
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
  if (error.status === 401) headers["WWW-Authenticate"] = 'Bearer realm="latchkey"';
  if (error.status === 503) headers["Retry-After"] ??= "1";
  return c.json(errorEnvelope(error, c.get("requestId")), error.status as 400, headers);
}

function toApiError(thrown: unknown): ApiError {
  if (thrown instanceof ApiError) return thrown;
  if (isDatabaseUnavailable(thrown)) return new ApiError("database_unavailable", { cause: thrown });
  // The database refused: a policy, a grant or a guard trigger. Routes check permissions
  // first, so this is defence in depth answering as such, not a crash.
  const state = sqlState(thrown);
  if (state === "42501") return new ApiError("forbidden", { cause: thrown });
  if (state === "P0001" && (thrown as { hint?: string }).hint === "last_admin") {
    return new ApiError("last_admin", { cause: thrown });
  }
  // Input the schemas should have caught (a value PostgreSQL cannot store or a constraint it
  // breaks) is still the client's input: 400, logged as a warning so we tighten the schema.
  if (state?.startsWith("22") || state === "23502" || state === "23514") {
    return new ApiError("validation_failed", {
      message: "The request has a value that cannot be stored.",
      cause: thrown,
    });
  }
  return new ApiError("internal_error", { cause: thrown });
}

/** At most this many details in one answer: 7,000 unknown fields must not make a 400 KB error. */
export const maxErrorDetails = 20;
const maxDetailPathLength = 120;

function detailPath(path: PropertyKey[]): string {
  const text = path.map(String).join(".") || "(body)";
  return text.length > maxDetailPathLength ? `${text.slice(0, maxDetailPathLength)}…` : text;
}

function detailsFrom(error: z.ZodError): ErrorDetail[] {
  const details = error.issues.flatMap((issue) => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({
        path: detailPath([...issue.path, key]),
        message: "This field is not allowed here.",
      }));
    }
    return [{ path: detailPath(issue.path), message: issue.message }];
  });
  if (details.length <= maxErrorDetails) return details;
  const shown = details.slice(0, maxErrorDetails - 1);
  return [...shown, {
    path: "(more)",
    message: `${details.length - shown.length} more problems are not listed; fix these first.`,
  }];
}

export function validate<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new ApiError("validation_failed", { details: detailsFrom(parsed.error) });
  }
  return parsed.data;
}

/** Reads and validates a JSON body; refuses other media types and malformed JSON. */
export async function readJsonBody<S extends z.ZodType>(
  c: AppContext,
  schema: S,
): Promise<z.infer<S>> {
  const text = await c.req.text();
  if (text.trim() === "") {
    throw new ApiError("validation_failed", {
      message: "A JSON request body is required.",
      details: [{ path: "(body)", message: "A JSON object is required." }],
    });
  }
  const mediaType = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (mediaType !== "application/json" && !mediaType.endsWith("+json")) {
    throw new ApiError("unsupported_media_type");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError("invalid_json");
  }
  if (/\\u0000/i.test(text)) throw nulCharacters("(body)");
  return validate(schema, value);
}

/** Validates the query string (each parameter's last value). */
export function readQuery<S extends z.ZodType>(c: AppContext, schema: S): z.infer<S> {
  const query = c.req.query();
  for (const [name, value] of Object.entries(query)) {
    if (value.includes("\u0000")) throw nulCharacters(name);
  }
  return validate(schema, query);
}

// PostgreSQL text cannot hold NUL, and no field of ours needs it.
function nulCharacters(path: string): ApiError {
  return new ApiError("validation_failed", {
    details: [{ path, message: "NUL characters are not allowed." }],
  });
}

/**
 * The client's address: the connection's, or with LATCHKEY_TRUSTED_PROXY_HOPS = n, the entry n
 * hops from the right of X-Forwarded-For (each trusted proxy appends the address it saw; the
 * entries left of those are whatever the client wrote, so trusting the first entry would let
 * anyone pick their own address and slip every per-client throttle).
 */
export function clientIp(c: AppContext): string | null {
  const remote = (c.env as { remoteAddr?: { hostname?: string } } | undefined)?.remoteAddr
    ?.hostname ?? null;
  const hops = c.get("runtime").config.LATCHKEY_TRUSTED_PROXY_HOPS;
  if (hops === 0) return remote;
  const chain = (c.req.header("x-forwarded-for") ?? "").split(",").map((hop) => hop.trim())
    .filter(Boolean);
  if (remote) chain.push(remote);
  return chain[Math.max(0, chain.length - 1 - hops)]?.slice(0, 100) ?? null;
}

/**
 * The client as every per-client throttle counts it: its address (clientIp), an IPv6 one by
 * its prefix (LATCHKEY_IPV6_CLIENT_PREFIX, /64 by default). Audit rows keep the full address.
 */
export function throttleClient(c: AppContext): string {
  const address = clientIp(c);
  if (address === null) return "unknown";
  return clientGroup(address, c.get("runtime").config.LATCHKEY_IPV6_CLIENT_PREFIX);
}

/** The request's id and origin, as stored with the audit events it causes. */
export function requestInfo(c: AppContext): RequestInfo {
  return {
    requestId: c.get("requestId"),
    ip: clientIp(c),
    userAgent: c.req.header("user-agent")?.slice(0, 500) ?? null,
  };
}

/** Route queries as this request's caller: `withCaller` with the request's principal and origin. */
export function asCaller<T>(c: AppContext, work: (tx: Transaction) => Promise<T>): Promise<T> {
  return withCaller(c.get("runtime").sql, c.get("principal") ?? null, requestInfo(c), work);
}
