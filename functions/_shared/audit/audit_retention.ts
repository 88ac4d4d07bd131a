import { withStatementTimeout } from "../db/database.ts";
import type { Runtime } from "../db/runtime.ts";
import { deleteInBatches, pruneAfterResponse } from "../housekeeping/batched_pruning.ts";

/**
 * LATCHKEY_AUDIT_RETENTION_DAYS without a cron job: events past their retention go after
 * answers, in batches (`latchkey.prune_audit_events` lets one isolate at a time do it), and what
 * was deleted is audited.
 */
// Small enough that a batch stays far inside the statement timeout on a busy database (5,000
// took 90 ms on the 10M-row log, and over 5 s on a loaded CI machine); at most 100,000 a run.
export const pruneBatch = 1_000;

export function pruneAuditInBackground(runtime: Runtime): void {
  const days = runtime.config.LATCHKEY_AUDIT_RETENTION_DAYS;
  if (!days) return;
  pruneAfterResponse(runtime, "audit_prune_failed", (runtime) => pruneAudit(runtime, days));
}

/** One pruning run; returns how many events it deleted. */
export async function pruneAudit(runtime: Runtime, days: number): Promise<number> {
  const { sql } = runtime;
  const total = await deleteInBatches(runtime, pruneBatch, (sql) =>
    sql<{ deleted: number }[]>`
      select latchkey.prune_audit_events(${days}, ${pruneBatch}) as deleted`);
  if (total > 0) {
    await withStatementTimeout(
      sql,
      sql`
        select latchkey.append_audit_event('system', null, null, 'audit.pruned', null, null,
          '{}'::jsonb, jsonb_build_object('deleted', ${total}::int, 'retentionDays', ${days}::int))`,
    );
  }
  return total;
}
