import { ApiError } from "../../_shared/ground/errors.ts";
import { pathId } from "../../_shared/http/ids.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { requestSweep } from "../../_shared/webhooks/webhook_outbox.ts";
import { adminCredentials } from "../admin_credentials.ts";

const noSuchDeliveryText = "No such webhook delivery.";

// The same message (the same webhook-id, so a receiver can tell it has it already), due now
// with a fresh budget of attempts; one being sent right now goes again once that attempt ends.
export const retryWebhookDeliveryRoute = defineRoute({
  method: "post",
  path: "/webhooks/deliveries/:id/retry",
  summary: "Deliver a webhook message again",
  auth: adminCredentials,
  permission: "webhooks:write",
  responses: {
    202: "`{id, endpointId}`: queued; it is sent right after this answer (if its endpoint " +
      "is enabled), with the same `webhook-id`.",
    404: noSuchDeliveryText,
  },
}, async (c) => {
  const id = pathId(c.req.param("id"), noSuchDeliveryText);
  const endpointId = await asCaller(c, async (tx) => {
    const [row] = await tx<{ endpoint_id: string }[]>`
      update latchkey.webhook_deliveries set
        attempts = 0, next_attempt_at = now(), delivered_at = null, failed_at = null
      where id = ${id}
      returning endpoint_id`;
    if (!row) throw new ApiError("not_found", { message: noSuchDeliveryText });
    await tx`
      select latchkey.record_audit_event('webhook.delivery_retried', 'webhook_endpoint',
        ${row.endpoint_id}, jsonb_build_object('deliveryId', ${id}::text))`;
    return row.endpoint_id;
  });
  requestSweep(c.get("runtime"));
  return c.json({ id, endpointId }, 202);
});
