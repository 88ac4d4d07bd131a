import { configuredAdminKeys, matchAdminKey } from "./static_admin_key.ts";
import { requestJson, withStatementTimeout } from "../db/database.ts";
import { ApiError } from "../ground/errors.ts";
import { adminPermissions, type Principal } from "../ground/principal.ts";
import type { AppContext } from "../http/context.ts";
import { asCaller, functionRelativePath, requestInfo, throttleClient } from "../http/request.ts";

/**
 * The request side of the static X-Admin-Key (static_admin_key.ts holds the configured keys):
 * the check, its throttle and its audit, on admin routes only.
 */

/**
 * The static admin key as a principal: full admin, no user behind it. Its permissions are the
 * admin role's, read with its audit row (every permission of the catalogue, the team's own
 * included); until then, Latchkey's own.
 */
export const adminKeyPrincipal: Principal = {
  kind: "admin_key",
  userId: null,
  role: "admin",
  permissions: adminPermissions,
  credentialId: null,
  user: null,
  session: null,
  apiKey: null,
  rateLimit: null,
};

function adminKeyThrottled(retryAfter: number): ApiError {
  return new ApiError("too_many_requests", {
    message: "Too many wrong X-Admin-Key attempts from this client; retry later.",
    headers: { "Retry-After": String(retryAfter) },
  });
}

/**
 * Checks `X-Admin-Key` with one database call either way. A wrong key counts against the
 * client (audited once per client per minute); past the limit every attempt from that client,
 * right or wrong, answers 429, so a throttled guesser learns nothing. A right key's use is
 * audited before the route runs: if it cannot be recorded, it does not happen.
 */
export async function authenticateAdminKey(c: AppContext, presented: string): Promise<void> {
  const { config, sql } = c.get("runtime");
  const entries = configuredAdminKeys(config);
  if (entries.length === 0) {
    throw new ApiError("unauthorized", {
      message: "X-Admin-Key is not enabled here (set LATCHKEY_ADMIN_KEY_SHA256 to enable it).",
    });
  }
  const client = throttleClient(c);
  const limit = config.LATCHKEY_ADMIN_KEY_MAX_FAILURES;
  const window = `${config.LATCHKEY_ADMIN_KEY_FAILURE_WINDOW_MINUTES} minutes`;
  const match = matchAdminKey(entries, presented);
  const expired = match?.expiresAt && match.expiresAt.getTime() <= Date.now()
    ? match.expiresAt
    : null;
  if (!match || expired) {
    const [{ retry_after }] = await withStatementTimeout(
      sql,
      sql<{ retry_after: number }[]>`
        select latchkey.record_admin_key_failure(${client}, ${limit}, ${window}::interval,
          ${requestJson(sql, requestInfo(c))}) as retry_after`,
    );
    if (retry_after > 0) throw adminKeyThrottled(retry_after);
    throw new ApiError("unauthorized", {
      message: expired
        ? `This X-Admin-Key ("${match!.name}") expired at ${expired.toISOString()}; use its ` +
          "successor from LATCHKEY_ADMIN_KEYS."
        : "The X-Admin-Key is not valid.",
    });
  }
  c.set("principal", adminKeyPrincipal);
  await asCaller(c, async (tx) => {
    const [{ retry_after, permissions }] = await tx<
      { retry_after: number; permissions: string[] }[]
    >`
      select latchkey.throttle_retry_after('admin_key', ${client}, ${limit}, ${window}::interval)
          as retry_after,
        latchkey.role_permission_names('admin') as permissions,
        latchkey.record_audit_event('admin_key.used', null, null,
          jsonb_build_object('method', ${c.req.method}::text, 'path', ${requestPath(c)}::text,
            'name', ${match.name}::text))`;
    if (retry_after > 0) throw adminKeyThrottled(retry_after);
    c.set("principal", { ...adminKeyPrincipal, permissions });
  });
}

/** The path as sent (still percent-encoded), safe to store whatever bytes it names. */
function requestPath(c: AppContext): string {
  return functionRelativePath(new URL(c.req.url).pathname).slice(0, 500);
}
