import { z } from "zod";
import { ApiError } from "../../_shared/ground/errors.ts";
import { pathId } from "../../_shared/http/ids.ts";
import { listPage, pageQuery } from "../../_shared/http/pagination.ts";
import { respondIdempotently } from "../../_shared/http/idempotency.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { requestSweep } from "../../_shared/webhooks/webhook_outbox.ts";
import { adminCredentials } from "../admin_credentials.ts";
import { noSuchWebhookText } from "../webhook_endpoints.ts";

const noSuchDeliveryText = "No such webhook delivery.";

interface DeliveryRow {
  id: string;
  event_id: string;
  event_type: string;
  created_at: Date;
  attempts: number;
  next_attempt_at: Date;
  last_attempt_at: Date | null;
  last_status: number | null;
  last_error: string | null;
  last_latency_ms: number | null;
  delivered_at: Date | null;
  failed_at: Date | null;
  dropped_at: Date | null;
}

/** The columns a caller may read: not the payload (the audit event, audit:read's). */
const deliveryColumns = [
  "id",
  "event_id",
  "event_type",
  "created_at",
  "attempts",
  "next_attempt_at",
  "last_attempt_at",
  "last_status",
  "last_error",
  "last_latency_ms",
  "delivered_at",
  "failed_at",
  "dropped_at",
] as const;

function deliveryView(row: DeliveryRow) {
  // Dropped over the endpoint's backlog limit: given up as a failed one is (failed_at), not
  // for its answers.
  const status = row.delivered_at
    ? "delivered"
    : row.dropped_at
    ? "dropped"
    : row.failed_at
    ? "failed"
    : "pending";
  return {
    id: row.id,
    eventId: row.event_id,
    type: row.event_type,
    status,
    attempts: row.attempts,
    lastStatus: row.last_status,
    lastResponse: row.last_error,
    lastLatencyMs: row.last_latency_ms,
    lastAttemptAt: row.last_attempt_at?.toISOString() ?? null,
    nextAttemptAt: status === "pending" ? row.next_attempt_at.toISOString() : null,
    deliveredAt: row.delivered_at?.toISOString() ?? null,
    failedAt: status === "failed" ? row.failed_at!.toISOString() : null,
    droppedAt: status === "dropped" ? row.dropped_at!.toISOString() : null,
    createdAt: row.created_at.toISOString(),
  };
}

export const listWebhookDeliveriesRoute = defineRoute({
  method: "get",
  path: "/webhooks/:id/deliveries",
  summary: "An endpoint's delivery log (newest first)",
  auth: adminCredentials,
  permission: "webhooks:read",
  query: z.strictObject(pageQuery),
  responses: {
    200: "`{deliveries, limit, nextCursor}`: each `{id, eventId, type, status, attempts, " +
      "lastStatus, lastResponse, lastLatencyMs, lastAttemptAt, nextAttemptAt, deliveredAt, " +
      "failedAt, droppedAt, createdAt}`. `id` is the message's `webhook-id`; `status` is " +
      "`pending`, `delivered`, `failed` (given up after its attempts) or `dropped` (the oldest " +
      "over the endpoint's backlog limit, never to be tried again unless re-delivered); " +
      "`lastStatus` the receiver's HTTP status (null when no answer " +
      "came), `lastResponse` the first 300 characters of its answer's body (or the error, when none " +
      "came), " +
      "`lastLatencyMs` how long the last attempt took; `nextAttemptAt` only while pending. " +
      "Never the message's body: it is the audit event `eventId`, for audit:read " +
      "(GET /admin/audit).",
    404: noSuchWebhookText,
  },
}, async (c, { query }) => {
  const id = pathId(c.req.param("id"), noSuchWebhookText);
  return c.json(
    await listPage(
      c,
      query,
      "deliveries",
      async (tx, keyset, cursorAt) => {
        const [endpoint] = await tx`select from latchkey.webhook_endpoints where id = ${id}`;
        if (!endpoint) throw new ApiError("not_found", { message: noSuchWebhookText });
        return await tx<(DeliveryRow & { cursor_at: string })[]>`
          select ${tx(deliveryColumns)}, ${cursorAt}
          from latchkey.webhook_deliveries where endpoint_id = ${id} ${keyset}`;
      },
      deliveryView,
    ),
  );
});

// Through the same outbox, lanes, leases and signing as every message; to this endpoint only,
// whatever events it subscribes to. Idempotent: a client retrying a lost answer queues one test.
export const testWebhookRoute = defineRoute({
  method: "post",
  path: "/webhooks/:id/test",
  idempotent: true,
  summary: "Send a webhook endpoint a test message",
  auth: adminCredentials,
  permission: "webhooks:write",
  responses: {
    202: "`{id, endpointId, eventId}`: a `webhook.test` message (`id` is its `webhook-id`) is " +
      "queued and sent right after this answer, signed as every message; its `data` is the " +
      "audit event `webhook.test_sent` that records the request. Follow it in " +
      "GET /admin/webhooks/:id/deliveries. A replay (the same Idempotency-Key) answers the " +
      "same ids and queues nothing.",
    404: noSuchWebhookText,
    409: "`webhook_disabled`: the endpoint is disabled (it would be sent nothing); " +
      "`idempotency_key_reused`: the Idempotency-Key was sent with another request.",
  },
}, async (c) => {
  const id = pathId(c.req.param("id"), noSuchWebhookText);
  const response = await respondIdempotently(c, async (tx) => {
    const [row] = await tx<
      { delivery_id: string | null; event_id: string | null; enabled: boolean }[]
    >`select delivery_id, event_id, enabled from latchkey.queue_webhook_test(${id})`;
    if (!row) throw new ApiError("not_found", { message: noSuchWebhookText });
    if (!row.enabled) throw new ApiError("webhook_disabled");
    return {
      status: 202,
      body: { id: row.delivery_id!, endpointId: id, eventId: row.event_id! },
    };
  });
  requestSweep(c.get("runtime"));
  return response;
});

// The same message (the same webhook-id, so a receiver can tell it has it already), due now
// with a fresh budget of attempts; one being sent right now goes again once that attempt ends.
// Idempotent: a retried request does not reset the budget of the attempts that followed it.
export const retryWebhookDeliveryRoute = defineRoute({
  method: "post",
  path: "/webhooks/deliveries/:id/retry",
  idempotent: true,
  summary: "Deliver a webhook message again",
  auth: adminCredentials,
  permission: "webhooks:write",
  responses: {
    202: "`{id, endpointId}`: queued; it is sent right after this answer (if its endpoint " +
      "is enabled), with the same `webhook-id`. A replay (the same Idempotency-Key) answers " +
      "the same and queues nothing again.",
    404: noSuchDeliveryText,
  },
}, async (c) => {
  const id = pathId(c.req.param("id"), noSuchDeliveryText);
  const response = await respondIdempotently(c, async (tx) => {
    const [row] = await tx<{ endpoint_id: string }[]>`
      update latchkey.webhook_deliveries set
        attempts = 0, next_attempt_at = now(), delivered_at = null, failed_at = null,
        dropped_at = null
      where id = ${id}
      returning endpoint_id`;
    if (!row) throw new ApiError("not_found", { message: noSuchDeliveryText });
    await tx`
      select latchkey.record_audit_event('webhook.delivery_retried', 'webhook_endpoint',
        ${row.endpoint_id}, jsonb_build_object('deliveryId', ${id}::text))`;
    return { status: 202, body: { id, endpointId: row.endpoint_id } };
  });
  requestSweep(c.get("runtime"));
  return response;
});
