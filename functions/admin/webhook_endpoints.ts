import { z } from "zod";
import type { Runtime } from "../_shared/db/runtime.ts";
import { ApiError } from "../_shared/ground/errors.ts";
import { checkedAddresses, webhookDestination } from "../_shared/webhooks/destinations.ts";
import { eventPatternProblem } from "../_shared/webhooks/event_patterns.ts";

/** What the webhook routes share: the endpoint's fields, its view, the URL's check. */

export const webhookUrlSchema = z.string().trim().min(8).max(2048).meta({
  description: "Where messages are POSTed: https:// (http:// only outside production), a host " +
    "that resolves to public addresses only (checked now and before every delivery).",
  examples: ["https://hooks.example.com/latchkey"],
});

// The example on the array itself: on the transform it would describe the output, and the
// document (of the input) would drop it.
export const webhookEventsSchema = z.array(z.string().max(80)).min(1).max(100)
  .meta({ examples: [["auth.*", "admin.user_updated"]] })
  .superRefine((patterns, context) => {
    patterns.forEach((pattern, index) => {
      const problem = eventPatternProblem(pattern);
      if (problem) context.addIssue({ code: "custom", path: [index], message: problem });
    });
  })
  .transform((patterns) => [...new Set(patterns)])
  .meta({
    description: "Audit actions by name (GET /admin/audit/actions), prefixes such as `auth.*`, " +
      "or `*` for every event.",
  });

export const webhookDescriptionSchema = z.string().trim().max(500).meta({
  examples: ["SIEM"],
});

export interface WebhookEndpointRow {
  id: string;
  url: string;
  events: string[];
  description: string;
  enabled: boolean;
  previous_secret_expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** The columns a caller may read: no secret among them. */
export const webhookEndpointColumns = [
  "id",
  "url",
  "events",
  "description",
  "enabled",
  "previous_secret_expires_at",
  "created_at",
  "updated_at",
] as const;

export function webhookEndpointView(row: WebhookEndpointRow) {
  const overlap = row.previous_secret_expires_at;
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    description: row.description,
    enabled: row.enabled,
    /** While the previous secret still signs beside the current one. */
    previousSecretExpiresAt: overlap && overlap.getTime() > Date.now()
      ? overlap.toISOString()
      : null,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** 400 on `url` unless it may be an endpoint: its scheme and every address it resolves to. */
export async function requireSafeWebhookUrl(runtime: Runtime, url: string): Promise<void> {
  const checked = webhookDestination(runtime.config, url);
  const resolved = "problem" in checked
    ? checked
    : await checkedAddresses(runtime, checked.destination);
  if ("problem" in resolved) {
    throw new ApiError("validation_failed", {
      details: [{ path: "url", message: resolved.problem }],
    });
  }
}

export const noSuchWebhookText = "No such webhook endpoint.";
