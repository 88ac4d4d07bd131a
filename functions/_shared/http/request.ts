import type { z } from "zod";
import { type RequestInfo, type Transaction, withCaller } from "../db/database.ts";
import { type Config, enabledNotifications } from "../config/config.ts";
import { ApiError, type ErrorDetail } from "../ground/errors.ts";
import { clientGroup } from "./client_groups.ts";
import type { AppContext } from "./context.ts";
import { functionsBasePath } from "./openapi.ts";

const gatewayPrefix = `${functionsBasePath}/`;

/** `/functions/v1/<name>/...` (the local gateway's URL) as `/<name>/...`; others unchanged. */
export function functionRelativePath(path: string): string {
  return path.startsWith(gatewayPrefix) ? path.slice(gatewayPrefix.length - 1) : path;
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

const notifyLists = new WeakMap<Config, string>();

/** LATCHKEY_NOTIFY's kinds in effect as the comma list the SQL reads (account notifications). */
function notifyList(config: Config | undefined): string {
  if (!config) return "";
  let list = notifyLists.get(config);
  if (list === undefined) {
    list = enabledNotifications(config).join(",");
    notifyLists.set(config, list);
  }
  return list;
}

/** The request's id and origin, as stored with the audit events it causes. */
export function requestInfo(c: AppContext): RequestInfo {
  return {
    requestId: c.get("requestId"),
    ip: clientIp(c),
    userAgent: c.req.header("user-agent")?.slice(0, 500) ?? null,
    notify: notifyList(c.get("runtime")?.config),
    notifyPerHour: c.get("runtime")?.config.LATCHKEY_NOTIFY_MAX_PER_HOUR,
  };
}

/** Route queries as this request's caller: `withCaller` with the request's principal and origin. */
export function asCaller<T>(c: AppContext, work: (tx: Transaction) => Promise<T>): Promise<T> {
  return withCaller(c.get("runtime").sql, c.get("principal") ?? null, requestInfo(c), work);
}
