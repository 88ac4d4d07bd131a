import { z } from "zod";
import { asCaller } from "../../_shared/http.ts";
import { defineRoute } from "../../_shared/routes.ts";
import { adminCredentials } from "../admin_credentials.ts";
import { auditEventView, type AuditRow } from "./list_audit.ts";

export const exportAuditQuery = z.strictObject({
  since: z.iso.datetime({ offset: true }),
  until: z.iso.datetime({ offset: true }).optional(),
});

/** Rows fetched per round trip; what the server holds of an export at any time. */
const batchRows = 500;

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
  responses: {
    200: "`application/x-ndjson`: one event per line, in the shape of GET /admin/audit's " +
      "events, for `since` ≤ createdAt < `until` (default now). Ends early, without a last " +
      "newline, if the database fails mid-stream.",
  },
}, async (c, { query }) => {
  const until = query.until ?? new Date().toISOString();
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
    await tx`
      select latchkey.record_audit_event('audit.exported', null, null,
        jsonb_build_object('since', ${query.since}::text, 'until', ${until}::text))`;
    const events = tx<Omit<AuditRow, "cursor_at">[]>`
      select id, created_at, actor_kind, actor_user_id, actor_credential_id, action,
        target_kind, target_id, request_id, ip_address, user_agent, metadata
      from latchkey.audit_events
      where created_at >= ${query.since}::timestamptz and created_at < ${until}::timestamptz
      order by created_at, id`.cursor(batchRows);
    for await (const rows of events) {
      started();
      // Waits while the client is slower than the database: backpressure, not buffering.
      await writer.ready;
      await writer.write(
        encoder.encode(rows.map((row) => JSON.stringify(auditEventView(row))).join("\n") + "\n"),
      );
    }
  });
  await Promise.race([underWay, exported]);
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
});
