import { createHash } from "node:crypto";
import type { Config } from "../config/config.ts";
import { ApiError } from "../ground/errors.ts";
import { fetchTextWithin } from "../ground/fetch_within.ts";
import { describeError, log } from "../config/log.ts";

export interface PasswordWarning {
  code: "password_breached";
  message: string;
}

/**
 * How many times the password appears in the breach corpus, by the k-anonymity range protocol
 * of Pwned Passwords: only the first 5 hex characters of its SHA-1 leave the server; the
 * service answers every suffix under that prefix (padded, so the answer's size tells nothing)
 * and the match is made here. Null when the service cannot be asked (the check fails open).
 */
export async function breachCount(config: Config, password: string): Promise<number | null> {
  const digest = createHash("sha1").update(password).digest("hex").toUpperCase();
  const [prefix, suffix] = [digest.slice(0, 5), digest.slice(5)];
  try {
    const response = await fetchTextWithin(`${config.LATCHKEY_PASSWORD_BREACH_API_URL}${prefix}`, {
      headers: { "Add-Padding": "true", "User-Agent": "latchkey" },
    }, 2_000);
    if (!response.ok) throw new Error(`the range service answered ${response.status}`);
    for (const line of response.text.split(/\r?\n/)) {
      const [candidate, count] = line.trim().split(":");
      if (candidate === suffix) return Number(count) || 0;
    }
    return 0;
  } catch (error) {
    log("warn", "password_breach_check_unavailable", { error: describeError(error) });
    return null;
  }
}

/**
 * LATCHKEY_PASSWORD_BREACH_CHECK for a password about to be set: `block` refuses a breached
 * one (400 on `path`), `warn` lets it through with a warning for the answer, `off` asks
 * nothing. A range service that cannot be reached lets the password through (logged).
 */
export async function screenNewPassword(
  config: Config,
  password: string,
  path: string,
): Promise<PasswordWarning[]> {
  if (config.LATCHKEY_PASSWORD_BREACH_CHECK === "off") return [];
  const count = await breachCount(config, password);
  if (!count) return [];
  const message = `This password appears ${count.toLocaleString("en")} times in known data ` +
    "breaches; choose another.";
  if (config.LATCHKEY_PASSWORD_BREACH_CHECK === "block") {
    throw new ApiError("validation_failed", { details: [{ path, message }] });
  }
  return [{ code: "password_breached", message }];
}

/** `{warnings}` for an answer body, or nothing when there are none. */
export function warningsField(warnings: PasswordWarning[]) {
  return warnings.length > 0 ? { warnings } : {};
}
