import { z } from "zod";
import { ApiError } from "../../_shared/ground/errors.ts";
import { pathId } from "../../_shared/http/ids.ts";
import { stepUpWhen } from "../../_shared/http/openapi.ts";
import { respondIdempotently } from "../../_shared/http/idempotency.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import {
  newWebhookSecret,
  sealWebhookSecret,
  webhookEncryptionKey,
} from "../../_shared/webhooks/webhook_secrets.ts";
import { webhooksChanged } from "../../_shared/webhooks/webhook_outbox.ts";
import { adminCredentials } from "../admin_credentials.ts";
import {
  noSuchWebhookText,
  requireSafeWebhookUrl,
  webhookDescriptionSchema,
  webhookEndpointColumns,
  type WebhookEndpointRow,
  webhookEndpointView,
  webhookEventsSchema,
  webhookUrlSchema,
} from "../webhook_endpoints.ts";

export const updateWebhookBody = z.strictObject({
  url: webhookUrlSchema.optional(),
  events: webhookEventsSchema.optional(),
  description: webhookDescriptionSchema.optional(),
  enabled: z.boolean().optional(),
}).refine((body) => Object.keys(body).length > 0, {
  message: "Send at least one of url, events, description, enabled.",
});

export const updateWebhookRoute = defineRoute({
  method: "patch",
  path: "/webhooks/:id",
  summary: "Change a webhook endpoint: URL, events, description, enabled",
  auth: adminCredentials,
  permission: "webhooks:write",
  body: updateWebhookBody,
  stepUp: stepUpWhen(
    updateWebhookBody,
    "the body changes `url` or `events`, or sets `enabled` to true",
    (body) => body.url !== undefined || body.events !== undefined || body.enabled === true,
    { enabled: true },
  ),
  responses: {
    200: "The endpoint. Disabled, it queues nothing; messages queued before wait until it is " +
      "enabled again.",
    400: "Invalid body; a `url` refused as for registration.",
    404: noSuchWebhookText,
  },
}, async (c, { body }) => {
  const id = pathId(c.req.param("id"), noSuchWebhookText);
  const runtime = c.get("runtime");
  if (body.url !== undefined) await requireSafeWebhookUrl(runtime, body.url);
  const updated = await asCaller(c, async (tx) => {
    const [before] = await tx<WebhookEndpointRow[]>`
      select ${tx(webhookEndpointColumns)} from latchkey.webhook_endpoints where id = ${id}
      for update`;
    if (!before) throw new ApiError("not_found", { message: noSuchWebhookText });
    const [row] = await tx<WebhookEndpointRow[]>`
      update latchkey.webhook_endpoints set
        url = ${body.url ?? before.url},
        events = ${body.events ?? before.events}::text[],
        description = ${body.description ?? before.description},
        enabled = ${body.enabled ?? before.enabled},
        updated_at = now()
      where id = ${id}
      returning ${tx(webhookEndpointColumns)}`;
    const changes = Object.fromEntries(
      (["url", "events", "description", "enabled"] as const)
        .filter((field) => body[field] !== undefined)
        .map((field) => [field, { before: before[field], after: row[field] }]),
    );
    await tx`
      select latchkey.record_audit_event('webhook.updated', 'webhook_endpoint', ${id},
        jsonb_build_object('changes', ${tx.json(changes)}::jsonb))`;
    return row;
  });
  if (updated.enabled) webhooksChanged(runtime);
  return c.json(webhookEndpointView(updated));
});

export const deleteWebhookRoute = defineRoute({
  method: "delete",
  path: "/webhooks/:id",
  summary: "Delete a webhook endpoint and its queued messages",
  auth: adminCredentials,
  permission: "webhooks:write",
  responses: { 200: "`{success: true, id}`.", 404: noSuchWebhookText },
}, async (c) => {
  const id = pathId(c.req.param("id"), noSuchWebhookText);
  await asCaller(c, async (tx) => {
    const [row] = await tx<{ url: string }[]>`
      delete from latchkey.webhook_endpoints where id = ${id} returning url`;
    if (!row) throw new ApiError("not_found", { message: noSuchWebhookText });
    await tx`
      select latchkey.record_audit_event('webhook.deleted', 'webhook_endpoint', ${id},
        jsonb_build_object('url', ${row.url}::text))`;
  });
  return c.json({ success: true, id });
});

export const rotateWebhookSecretBody = z.strictObject({
  overlapSeconds: z.number().int().min(0).max(7 * 24 * 3600).optional().meta({
    description: "How long the old secret keeps signing beside the new one (both signatures " +
      "in webhook-signature), so receivers can switch; default 86400 (a day), 0 for none.",
    examples: [3600],
  }),
});

// Idempotent, so a client retrying a lost answer does not rotate twice (which would end the
// overlap of a secret its receivers may already hold). The replay answers `secret: null`: as
// with keys, a secret is shown once and never kept for a replay; a client that lost it
// rotates again (overlapSeconds 0: nobody holds the lost one).
export const rotateWebhookSecretRoute = defineRoute({
  method: "post",
  path: "/webhooks/:id/rotate-secret",
  idempotent: true,
  summary: "Rotate a webhook endpoint's signing secret, with an overlap",
  auth: adminCredentials,
  permission: "webhooks:write",
  body: rotateWebhookSecretBody,
  responses: {
    200: "`{id, secret, previousSecretExpiresAt}`: the new `whsec_…` secret, shown this once; " +
      "until `previousSecretExpiresAt` messages carry a signature by each secret. A replay " +
      "(the same Idempotency-Key) rotates nothing and answers `secret: null`.",
    404: noSuchWebhookText,
    501: "`not_configured`: LATCHKEY_MFA_ENCRYPTION_KEY is unset.",
  },
}, async (c, { body }) => {
  const id = pathId(c.req.param("id"), noSuchWebhookText);
  const key = webhookEncryptionKey(c.get("runtime").config);
  const overlapSeconds = body.overlapSeconds ?? 86_400;
  const { secret, bytes } = newWebhookSecret();
  const sealed = await sealWebhookSecret(key, id, bytes);
  return await respondIdempotently(c, async (tx) => {
    const [{ expires_at }] = await tx<{ expires_at: Date | null }[]>`
      select latchkey.rotate_webhook_secret(${id}, ${sealed},
        make_interval(secs => ${overlapSeconds})) as expires_at`;
    if (!expires_at) throw new ApiError("not_found", { message: noSuchWebhookText });
    await tx`
      select latchkey.record_audit_event('webhook.secret_rotated', 'webhook_endpoint', ${id},
        jsonb_build_object('overlapSeconds', ${overlapSeconds}::int))`;
    const previousSecretExpiresAt = overlapSeconds > 0 ? expires_at.toISOString() : null;
    return {
      status: 200,
      body: { id, secret, previousSecretExpiresAt },
      replayBody: { id, secret: null, previousSecretExpiresAt },
    };
  });
});
