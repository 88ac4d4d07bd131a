import { log } from "../config/log.ts";
import { withStatementTimeout } from "../db/database.ts";
import type { Runtime } from "../db/runtime.ts";
import { deleteInBatches, pruneAfterResponse } from "../housekeeping/batched_pruning.ts";

/**
 * The outbox stays bounded. Undelivered: an endpoint's backlog over
 * LATCHKEY_WEBHOOK_BACKLOG_LIMIT loses its oldest messages (marked dropped; each endpoint's drop
 * audited at most once a minute), trimmed by the deliverer at most every `trimEveryMs` per
 * isolate rather than checked as events are queued (the queueing trigger runs in every audited
 * transaction; see the migration 20261213000100 for why). Finished: delivered, failed and dropped
 * messages older than LATCHKEY_WEBHOOK_DELIVERY_RETENTION_DAYS are deleted after answers, in
 * batches, as old audit events are.
 */
export const trimEveryMs = 1_000;
/**
 * While the isolate serves traffic (webhook_outbox.ts), every 5 s: a trim reads up to the cap's
 * worth of index entries per endpoint, which at 1 s cost a busy database more than the drops;
 * a backlog may then run past the cap by 5 s of events before it is trimmed back.
 */
export const servingTrimEveryMs = 5_000;
/** Messages one call drops at most per endpoint; a run calls again while one was full. */
export const trimBatch = 2_000;
const trimCallsPerRun = 10;
export const deliveryPruneBatch = 1_000;

/** Queued events become their endpoints' messages (as a claim does first), in batches. */
async function fanOutQueue(runtime: Runtime): Promise<void> {
  const { sql } = runtime;
  for (let call = 0; call < trimCallsPerRun; call++) {
    const [{ events }] = await withStatementTimeout(
      sql,
      sql<{ events: number }[]>`select latchkey.fan_out_webhook_queue(${trimBatch}) as events`,
    );
    if (events < trimBatch) break;
  }
}

/** One trimming run; answers how many messages it dropped. */
export async function trimWebhookBacklogs(runtime: Runtime): Promise<number> {
  const { sql, config } = runtime;
  // Queued events first, so the cap counts them.
  await fanOutQueue(runtime);
  let total = 0;
  for (let call = 0; call < trimCallsPerRun; call++) {
    const [{ dropped, more }] = await withStatementTimeout(
      sql,
      sql<{ dropped: number; more: boolean }[]>`
        select dropped, more from latchkey.trim_webhook_backlogs(
          ${config.LATCHKEY_WEBHOOK_BACKLOG_LIMIT}, ${trimBatch})`,
    );
    total += dropped;
    if (!more) break;
  }
  if (total > 0) {
    // A drop's own audit event joins the backlog it was dropped from (the trim left it room):
    // fanned out now, so the backlog is at the cap with it, not one short with it queued.
    await fanOutQueue(runtime);
    log("debug", "webhook_backlog_dropped", { dropped: total });
  }
  return total;
}

export function pruneWebhookDeliveriesInBackground(runtime: Runtime): void {
  pruneAfterResponse(runtime, "webhook_delivery_prune_failed", pruneWebhookDeliveries);
}

/** One pruning run; answers how many finished deliveries it deleted. */
export async function pruneWebhookDeliveries(runtime: Runtime): Promise<number> {
  const days = runtime.config.LATCHKEY_WEBHOOK_DELIVERY_RETENTION_DAYS;
  const total = await deleteInBatches(
    runtime,
    deliveryPruneBatch,
    (sql) =>
      sql<{ deleted: number }[]>`
      select latchkey.prune_webhook_deliveries(${days}, ${deliveryPruneBatch}) as deleted`,
  );
  if (total > 0) log("debug", "webhook_deliveries_pruned", { deleted: total, retentionDays: days });
  return total;
}
