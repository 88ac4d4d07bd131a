import type { Config } from "./config.ts";

const levels = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
export type LogLevel = Exclude<keyof typeof levels, "silent">;

let threshold: number = levels.info;

export function setLogLevel(level: Config["LATCHKEY_LOG_LEVEL"]): void {
  threshold = levels[level];
}

export function logEnabled(level: LogLevel): boolean {
  return levels[level] >= threshold;
}

/** One JSON line per event. Callers pass identifiers, never secrets. */
export function log(level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
  if (levels[level] < threshold) return;
  const line = JSON.stringify({ time: new Date().toISOString(), level, event, ...fields });
  if (levels[level] >= levels.error) console.error(line);
  else console.log(line);
}

/** What to log of an unexpected error: its kind and message, never request data. */
export function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { errorName: error.name, errorMessage: error.message, ...(code ? { code } : {}) };
  }
  return { errorMessage: String(error) };
}
