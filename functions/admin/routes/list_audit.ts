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
  subject: uuidSchema.optional().meta({
    description: "A user's id: the events about that user and about their API keys and " +
      "sessions (those the caller may read), whatever the actor.",
  }),
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
  actor_email: string | null;
  target_email: string | null;
}

/**
 * An event's columns, with the current email of its acting user and of a user it is about, so
 * people read who rather than an id. Subqueries rather than joins: the keyset and the filters
 * name `created_at` and `id` unqualified. RLS applies to them too: a caller who may not read
 * users gets null, and the id still says who.
 */
export function auditColumns(tx: Transaction) {
  return tx`id, created_at, actor_kind, actor_user_id, actor_credential_id, action,
    target_kind, target_id, request_id, ip_address, user_agent, metadata,
    (select actor.email from latchkey.users actor where actor.id = actor_user_id) as actor_email,
    case when target_kind = 'user' then
      (select target.email from latchkey.users target where target.id = target_id)
    end as target_email`;
}

/**
 * The ids an event about this user may be filed under: the user's, and those of their keys
 * and sessions (a key's events name the key as their target). Read as the caller, so a key
 * or session it may not read adds nothing.
 */
function aboutUser(tx: Transaction, userId: string) {
  return tx`and target_id in (
    select ${userId}::uuid
    union all select owned_key.id from latchkey.api_keys owned_key
      where owned_key.user_id = ${userId}
    union all select own_session.id from latchkey.sessions own_session
      where own_session.user_id = ${userId})`;
}

export const listAuditRoute = defineRoute({
  method: "get",
  path: "/audit",
  summary: "The audit log, filtered",
  auth: adminCredentials,
  permission: "audit:read",
  query: listAuditQuery,
  responses: {
    200: "`{events, limit, nextCursor}`; each event has `actorEmail` (the acting user's " +
      "current email) and, for a user target, `targetEmail`: null when there is none or the " +
      "caller may not read users.",
  },
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
    select ${auditColumns(tx)}, ${cursorAt}
    from latchkey.audit_events
    where true
      ${query.actorId ? tx`and actor_user_id = ${query.actorId}` : tx``}
      ${query.action ? tx`and action = ${query.action}` : tx``}
      ${query.targetId ? tx`and target_id = ${query.targetId}` : tx``}
      ${query.subject ? aboutUser(tx, query.subject) : tx``}
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
    actorEmail: row.actor_email,
    action: row.action,
    targetKind: row.target_kind,
    targetId: row.target_id,
    targetEmail: row.target_email,
    requestId: row.request_id,
    ipAddress: row.ip_address,
    userAgent: row.user_agent,
    metadata: row.metadata,
  };
}
