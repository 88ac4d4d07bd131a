import type { Config } from "./config.ts";
import { inEdgeRuntime } from "../ground/edge_runtime.ts";

const levels = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
export type LogLevel = Exclude<keyof typeof levels, "silent">;

let threshold: number = levels.info;
let pretty = false;

export function configureLogs(config: Pick<Config, "LATCHKEY_LOG_LEVEL" | "LATCHKEY_LOG_FORMAT">) {
  threshold = levels[config.LATCHKEY_LOG_LEVEL];
  pretty = config.LATCHKEY_LOG_FORMAT === "pretty" ||
    (config.LATCHKEY_LOG_FORMAT === "auto" && isTerminal());
}

function isTerminal(): boolean {
  try {
    return Deno.stdout.isTerminal();
  } catch {
    return false;
  }
}

/** `12:04:05 INFO request GET /auth/session 200 1.2ms session:5f…` for people at a terminal. */
function prettyLine(level: LogLevel, event: string, fields: Record<string, unknown>): string {
  const time = new Date().toISOString().slice(11, 19);
  const { method, path, status, durationMs, principal, requestId, ...rest } = fields;
  const who = principal && typeof principal === "object"
    ? `${(principal as { kind: string }).kind}:${
      String((principal as { id: unknown }).id ?? "-").slice(0, 8)
    }`
    : "";
  const request = method ? `${method} ${path} ${status} ${durationMs}ms ${who}`.trim() : "";
  const extra = Object.entries(rest).map(([key, value]) => `${key}=${JSON.stringify(value)}`);
  const id = requestId ? `[${String(requestId).slice(0, 8)}]` : "";
  return [time, level.toUpperCase().padEnd(5), event, request, ...extra, id].filter(Boolean).join(
    " ",
  );
}

export function logEnabled(level: LogLevel): boolean {
  return levels[level] >= threshold;
}

/** One JSON line per event. Callers pass identifiers, never secrets. */
export function log(level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
  if (levels[level] < threshold) return;
  const line = pretty
    ? prettyLine(level, event, fields)
    : JSON.stringify({ time: new Date().toISOString(), level, event, ...fields });
  if (levels[level] >= levels.error) {
    // Errors are written at once, after what came before them.
    flushLogs();
    console.error(line);
  } else if (inEdgeRuntime()) {
    // Supabase collects console output, one event per call.
    console.log(line);
  } else {
    buffer(line);
  }
}

// Outside the edge runtime the lines go to stdout in batches: a write per request line cost
// about a third of the key check's throughput (measured with `deno task bench`). At most
// 20 ms or 64 KiB wait; the process flushes before it exits.
const encoder = new TextEncoder();
let pending: string[] = [];
let pendingLength = 0;
let flushTimer: ReturnType<typeof setTimeout> | undefined;

function buffer(line: string): void {
  pending.push(line, "\n");
  pendingLength += line.length + 1;
  if (pendingLength >= 64 * 1024) {
    flushLogs();
  } else if (flushTimer === undefined) {
    flushTimer = setTimeout(flushLogs, 20);
  }
}

/** Writes the buffered lines now (before exit, and before an error line). */
export function flushLogs(): void {
  if (flushTimer !== undefined) clearTimeout(flushTimer);
  flushTimer = undefined;
  if (pending.length === 0) return;
  const bytes = encoder.encode(pending.join(""));
  pending = [];
  pendingLength = 0;
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

globalThis.addEventListener("unload", flushLogs);

/** What to log of an unexpected error: its kind and message, never request data. */
export function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { errorName: error.name, errorMessage: error.message, ...(code ? { code } : {}) };
  }
  return { errorMessage: String(error) };
}
