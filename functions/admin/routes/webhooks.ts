import { z } from "zod";
import { respondIdempotently } from "../../_shared/http/idempotency.ts";
import { listPage, pageQuery } from "../../_shared/http/pagination.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import {
  newWebhookSecret,
  sealWebhookSecret,
  webhookEncryptionKey,
} from "../../_shared/webhooks/webhook_secrets.ts";
import { webhooksChanged } from "../../_shared/webhooks/webhook_outbox.ts";
import { adminCredentials } from "../admin_credentials.ts";
import {
  requireSafeWebhookUrl,
  webhookDescriptionSchema,
  webhookEndpointColumns,
  type WebhookEndpointRow,
  webhookEndpointView,
  webhookEventsSchema,
  webhookUrlSchema,
} from "../webhook_endpoints.ts";

export const listWebhooksRoute = defineRoute({
  method: "get",
  path: "/webhooks",
  summary: "List webhook endpoints (newest first)",
  auth: adminCredentials,
  permission: "webhooks:read",
  query: z.strictObject(pageQuery),
  responses: {
    200: "`{webhooks, limit, nextCursor}`: each `{id, url, events, description, enabled, " +
      "previousSecretExpiresAt, createdAt, updatedAt}`; never a secret.",
  },
}, async (c, { query }) => {
  return c.json(
    await listPage(
      c,
      query,
      "webhooks",
      (tx, keyset, cursorAt) =>
        tx<(WebhookEndpointRow & { cursor_at: string })[]>`
          select ${tx(webhookEndpointColumns)}, ${cursorAt}
          from latchkey.webhook_endpoints where true ${keyset}`,
      webhookEndpointView,
    ),
  );
});

export const createWebhookBody = z.strictObject({
  url: webhookUrlSchema,
  events: webhookEventsSchema,
  description: webhookDescriptionSchema.optional(),
  enabled: z.boolean().optional().meta({ description: "Default true." }),
});

// An endpoint is a standing export of the audit log: the same step-up as an export.
export const createWebhookRoute = defineRoute({
  method: "post",
  path: "/webhooks",
  idempotent: true,
  summary: "Register a webhook endpoint for audit events (Standard Webhooks)",
  auth: adminCredentials,
  permission: "webhooks:write",
  body: createWebhookBody,
  stepUp: true,
  responses: {
    201: "The endpoint with `secret` (`whsec_…`), shown this once: verify messages with it " +
      "(any Standard Webhooks library). A replay (the same Idempotency-Key) answers " +
      "`secret: null`: it is never stored.",
    400: "Invalid body; a `url` that is not https:// in production, or whose host resolves " +
      "to a loopback, private, link-local, CGNAT, metadata or unspecified address; an unknown " +
      "event.",
    409: "Idempotency-Key reused with another request.",
    501: "`not_configured`: LATCHKEY_MFA_ENCRYPTION_KEY (which keeps secrets encrypted) is unset.",
  },
}, async (c, { body }) => {
  const runtime = c.get("runtime");
  const key = webhookEncryptionKey(runtime.config);
  await requireSafeWebhookUrl(runtime, body.url);
  const id = crypto.randomUUID();
  const { secret, bytes } = newWebhookSecret();
  const sealed = await sealWebhookSecret(key, id, bytes);
  let enabled = false;
  const response = await respondIdempotently(c, async (tx) => {
    const [row] = await tx<WebhookEndpointRow[]>`
      insert into latchkey.webhook_endpoints (id, url, events, description, enabled,
        secret_ciphertext)
      values (${id}, ${body.url}, ${body.events}::text[], ${body.description ?? ""},
        ${body.enabled ?? true}, ${sealed})
      returning ${tx(webhookEndpointColumns)}`;
    await tx`
      select latchkey.record_audit_event('webhook.created', 'webhook_endpoint', ${id},
        jsonb_build_object('url', ${body.url}::text, 'events', to_jsonb(${body.events}::text[]),
          'enabled', ${row.enabled}::boolean))`;
    enabled = row.enabled;
    const view = webhookEndpointView(row);
    return { status: 201, body: { ...view, secret }, replayBody: { ...view, secret: null } };
  });
  if (enabled) webhooksChanged(runtime);
  return response;
});
