import { z } from "zod";
import { uuidSchema } from "../../_shared/http/ids.ts";
import type { Transaction } from "../../_shared/db/database.ts";
import {
  type cursorColumn,
  type keysetOf,
  listPage,
  pageQuery,
} from "../../_shared/http/pagination.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { adminCredentials } from "../admin_credentials.ts";

export const listAuditQuery = z.strictObject({
  actorId: uuidSchema.optional(),
  action: z.string().max(64).optional(),
  targetId: uuidSchema.optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
  ...pageQuery,
});

export interface AuditRow {
  id: string;
  created_at: Date;
  cursor_at: string;
  actor_kind: string;
  actor_user_id: string | null;
  actor_credential_id: string | null;
  action: string;
  target_kind: string | null;
  target_id: string | null;
  request_id: string | null;
  ip_address: string | null;
  user_agent: string | null;
  metadata: Record<string, unknown>;
}

export const listAuditRoute = defineRoute({
  method: "get",
  path: "/audit",
  summary: "The audit log, filtered",
  auth: adminCredentials,
  permission: "audit:read",
  query: listAuditQuery,
  responses: { 200: "`{events, limit, nextCursor}`." },
}, async (c, { query }) => {
  return c.json(
    await listPage(
      c,
      query,
      "events",
      (tx, keyset, cursorAt) => auditPageQuery(tx, query, keyset, cursorAt),
      auditEventView,
    ),
  );
});

/** The page's query; exported so a test can EXPLAIN exactly what the route runs. */
export function auditPageQuery(
  tx: Transaction,
  query: z.output<typeof listAuditQuery>,
  keyset: ReturnType<typeof keysetOf>,
  cursorAt: ReturnType<typeof cursorColumn>,
) {
  return tx<AuditRow[]>`
    select id, created_at, ${cursorAt}, actor_kind, actor_user_id, actor_credential_id,
      action, target_kind, target_id, request_id, ip_address, user_agent, metadata
    from latchkey.audit_events
    where true
      ${query.actorId ? tx`and actor_user_id = ${query.actorId}` : tx``}
      ${query.action ? tx`and action = ${query.action}` : tx``}
      ${query.targetId ? tx`and target_id = ${query.targetId}` : tx``}
      ${query.since ? tx`and created_at >= ${query.since}::timestamptz` : tx``}
      ${query.until ? tx`and created_at < ${query.until}::timestamptz` : tx``}
      ${keyset}`;
}

export function auditEventView(row: Omit<AuditRow, "cursor_at">) {
  return {
    id: row.id,
    createdAt: row.created_at.toISOString(),
    actorKind: row.actor_kind,
    actorUserId: row.actor_user_id,
    actorCredentialId: row.actor_credential_id,
    action: row.action,
    targetKind: row.target_kind,
    targetId: row.target_id,
    requestId: row.request_id,
    ipAddress: row.ip_address,
    userAgent: row.user_agent,
    metadata: row.metadata,
  };
}
