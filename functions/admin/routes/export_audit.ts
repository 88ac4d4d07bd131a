import { z } from "zod";
import { ApiError } from "../../_shared/ground/errors.ts";
import { type AppContext } from "../../_shared/http/context.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { settlesWithin } from "../../_shared/ground/settles_within.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { adminCredentials } from "../admin_credentials.ts";
import { auditColumns, auditEventView, type AuditRow } from "./list_audit.ts";

export const exportAuditQuery = z.strictObject({
  since: z.iso.datetime({ offset: true }),
  until: z.iso.datetime({ offset: true }).optional(),
});

/** Rows fetched per round trip; what the server holds of an export at any time. */
const batchRows = 500;

/**
 * Exports running in this isolate. Each holds a connection for as long as its client reads, so
 * they are bounded (LATCHKEY_AUDIT_EXPORTS_MAX) and the rest of the pool stays with the hot
 * path; one caller runs one export at a time anywhere (a lock in the database).
 */
let running = 0;

function exportsBusy(message: string): ApiError {
  return new ApiError("too_many_requests", { message, headers: { "Retry-After": "10" } });
}

// For a SIEM: every event of a time range, oldest first, one JSON object a line, streamed from
// a cursor inside the caller's transaction (RLS applies) with backpressure, so memory stays
// flat however long the range. The export itself is audited before the first line.
export const exportAuditRoute = defineRoute({
  method: "get",
  path: "/audit/export",
  summary: "Stream the audit log of a time range as NDJSON (oldest first)",
  auth: adminCredentials,
  permission: "audit:read",
  query: exportAuditQuery,
  stepUp: true,
  responses: {
    200: "`application/x-ndjson`: one event per line, in the shape of GET /admin/audit's " +
      "events, for `since` ≤ createdAt < `until` (default now). Ends early, without a last " +
      "newline, if the database fails mid-stream, the client stops reading for " +
      "LATCHKEY_AUDIT_EXPORT_IDLE_SECONDS or the export runs past " +
      "LATCHKEY_AUDIT_EXPORT_MAX_SECONDS.",
    429: "`too_many_requests`: this caller's export is still running, or this isolate runs " +
      "LATCHKEY_AUDIT_EXPORTS_MAX exports already; see Retry-After.",
  },
}, async (c, { query }) => {
  const { config } = c.get("runtime");
  if (running >= config.LATCHKEY_AUDIT_EXPORTS_MAX) {
    throw exportsBusy("Too many audit exports are running; retry shortly.");
  }
  running += 1;
  let released = false;
  const release = () => {
    if (!released) running -= 1;
    released = true;
  };
  try {
    return await streamExport(c, query, release);
  } catch (error) {
    release();
    throw error;
  }
});

async function streamExport(
  c: AppContext,
  query: z.output<typeof exportAuditQuery>,
  release: () => void,
): Promise<Response> {
  const { config } = c.get("runtime");
  const until = query.until ?? new Date().toISOString();
  const deadline = Date.now() + config.LATCHKEY_AUDIT_EXPORT_MAX_SECONDS * 1000;
  const idleMs = config.LATCHKEY_AUDIT_EXPORT_IDLE_SECONDS * 1000;
  const caller = c.get("principal").credentialId ?? "admin_key";
  const encoder = new TextEncoder();
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>(
    undefined,
    { highWaterMark: 4 },
    { highWaterMark: 4 },
  );
  const writer = writable.getWriter();
  // Settles once the export is under way (audited, first batch read) or has failed before it:
  // a database that is down answers the usual 503 envelope, not an empty 200.
  let started: () => void = () => {};
  const underWay = new Promise<void>((resolve) => started = resolve);
  const exported = asCaller(c, async (tx) => {
    // A client that stops reading is let go below; should this process stall, the server ends
    // the idle transaction itself a little later.
    const [{ alone }] = await tx<{ alone: boolean }[]>`
      select pg_try_advisory_xact_lock(hashtextextended('latchkey.audit_export:' || ${caller}, 0))
          as alone,
        set_config('idle_in_transaction_session_timeout',
          ${String(idleMs + 5000)}, true)`;
    if (!alone) throw exportsBusy("Your previous audit export is still running; retry after it.");
    await tx`
      select latchkey.record_audit_event('audit.exported', null, null,
        jsonb_build_object('since', ${query.since}::text, 'until', ${until}::text))`;
    // A cursor of SQL's own, read by FETCH statements: between two the transaction is idle, so
    // an export given up on just rolls back (a driver-side cursor left mid-result holds its
    // connection until the result is read).
    await tx`
      declare audit_export no scroll cursor for
      select ${auditColumns(tx)}
      from latchkey.audit_events
      where created_at >= ${query.since}::timestamptz and created_at < ${until}::timestamptz
      order by created_at, id`;
    while (true) {
      const rows = await tx<Omit<AuditRow, "cursor_at">[]>`
        fetch ${tx.unsafe(String(batchRows))} from audit_export`;
      if (rows.length === 0) break;
      started();
      // Waits while the client is slower than the database: backpressure, not buffering; but
      // not for a client that reads nothing for the idle time, nor past the deadline.
      const delivered = writer.ready.then(() =>
        writer.write(
          encoder.encode(rows.map((row) => JSON.stringify(auditEventView(row))).join("\n") + "\n"),
        )
      );
      if (!await settlesWithin(delivered, Math.min(idleMs, deadline - Date.now()))) {
        throw new Error("the client stopped reading, or the export ran past its deadline");
      }
      await delivered;
    }
  });
  await Promise.race([underWay, exported]);
  exported.finally(release).catch(() => {});
  exported.then(
    () => writer.close(),
    (error) => writer.abort(error),
  ).catch(() => {
    // The client went away: the transaction has rolled back and the stream is gone.
  });
  const name = `latchkey-audit-${query.since}-${until}.ndjson`.replace(/[^A-Za-z0-9.-]/g, "_");
  return c.body(readable, 200, {
    "content-type": "application/x-ndjson; charset=utf-8",
    "content-disposition": `attachment; filename="${name}"`,
    "cache-control": "no-store",
  });
}
