import { withStatementTimeout } from "../db/database.ts";
import type { Runtime } from "../db/runtime.ts";
import { describeError, log } from "../config/log.ts";
import { continueAfterResponse } from "../ground/edge_runtime.ts";

/**
 * LATCHKEY_AUDIT_RETENTION_DAYS without a cron job: after a request, at most every 10 minutes
 * per isolate, the isolate deletes events past their retention in batches (each one short
 * transaction; `latchkey.prune_audit_events` lets one isolate at a time do it) until none is
 * left or the run's budget is spent, and audits what it deleted. Never on a request's path.
 */
const everyMs = 10 * 60_000;
// Small enough that a batch stays far inside the statement timeout on a busy database (5,000
// took 90 ms on the 10M-row log, and over 5 s on a loaded CI machine); at most 100,000 a run.
export const pruneBatch = 1_000;
const batchesPerRun = 100;

const lastRun = new WeakMap<Runtime, number>();

export function pruneAuditInBackground(runtime: Runtime): void {
  const days = runtime.config.LATCHKEY_AUDIT_RETENTION_DAYS;
  if (!days) return;
  const now = Date.now();
  if (now - (lastRun.get(runtime) ?? -Infinity) < everyMs) return;
  lastRun.set(runtime, now);
  continueAfterResponse(
    pruneAudit(runtime, days).catch((error) =>
      log("warn", "audit_prune_failed", { error: describeError(error) })
    ),
  );
}

/** One pruning run; returns how many events it deleted. */
export async function pruneAudit({ sql }: Runtime, days: number): Promise<number> {
  let total = 0;
  for (let batch = 0; batch < batchesPerRun; batch++) {
    const [{ deleted }] = await withStatementTimeout(
      sql,
      sql<
        { deleted: number }[]
      >`select latchkey.prune_audit_events(${days}, ${pruneBatch}) as deleted`,
    );
    total += deleted;
    if (deleted < pruneBatch) break;
  }
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
