import type { PendingQuery } from "postgres";
import { withStatementTimeout } from "../db/database.ts";
import type { Runtime } from "../db/runtime.ts";
import { describeError, log } from "../config/log.ts";
import { continueAfterResponse } from "../ground/edge_runtime.ts";

/**
 * Housekeeping without a cron job (the audit log's retention, expired challenges): after an
 * answer, at most every 10 minutes per isolate and kind, never on a request's path, tracked so
 * the edge runtime waits for it and a shutdown lets it settle. A failure is logged as `failure`.
 */
const everyMs = 10 * 60_000;
const lastRuns = new WeakMap<Runtime, Map<string, number>>();

export function pruneAfterResponse(
  runtime: Runtime,
  failure: string,
  prune: (runtime: Runtime) => Promise<unknown>,
): void {
  let last = lastRuns.get(runtime);
  if (!last) lastRuns.set(runtime, last = new Map());
  const now = Date.now();
  if (now - (last.get(failure) ?? -Infinity) < everyMs) return;
  last.set(failure, now);
  continueAfterResponse(
    prune(runtime).catch((error) => log("warn", failure, { error: describeError(error) })),
  );
}

/** Batches a run deletes at most: 100,000 rows of a 1,000-row batch. */
const batchesPerRun = 100;

/**
 * Deletes in batches, each one short statement of its own (`deleteBatch` answers how many rows it
 * deleted, at most `batch`), until a batch comes back short or the run's budget is spent;
 * answers the total.
 */
export async function deleteInBatches(
  { sql }: Runtime,
  batch: number,
  deleteBatch: (sql: Runtime["sql"]) => PendingQuery<{ deleted: number }[]>,
): Promise<number> {
  let total = 0;
  for (let run = 0; run < batchesPerRun; run++) {
    const [{ deleted }] = await withStatementTimeout(sql, deleteBatch(sql));
    total += deleted;
    if (deleted < batch) break;
  }
  return total;
}
