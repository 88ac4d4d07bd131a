import { withStatementTimeout } from "../db/database.ts";
import type { Runtime } from "../db/runtime.ts";
import { describeError, log } from "../config/log.ts";
import { continueAfterResponse } from "../ground/edge_runtime.ts";

/**
 * Expired sign-in challenges (latchkey.sessions with purpose 'mfa_challenge', minutes long) and
 * expired passkey challenges (latchkey.webauthn_challenges) without a cron job: after a request,
 * at most every 10 minutes per isolate, the isolate deletes them in batches (each one short
 * transaction; `latchkey.prune_expired_challenges` lets one isolate at a time do it) until none
 * is left or the run's budget is spent. Never on a request's path. Sessions themselves stay
 * after they expire: the audit log files events under their ids.
 */
const everyMs = 10 * 60_000;
/** Rows a batch deletes at most, of each kind. */
export const challengePruneBatch = 1_000;
const batchesPerRun = 100;

const lastRun = new WeakMap<Runtime, number>();

export function pruneChallengesInBackground(runtime: Runtime): void {
  const now = Date.now();
  if (now - (lastRun.get(runtime) ?? -Infinity) < everyMs) return;
  lastRun.set(runtime, now);
  continueAfterResponse(
    pruneExpiredChallenges(runtime).catch((error) =>
      log("warn", "challenge_prune_failed", { error: describeError(error) })
    ),
  );
}

/** One pruning run; returns how many rows it deleted. */
export async function pruneExpiredChallenges({ sql }: Runtime): Promise<number> {
  let total = 0;
  for (let batch = 0; batch < batchesPerRun; batch++) {
    const [{ deleted }] = await withStatementTimeout(
      sql,
      sql<{ deleted: number }[]>`
        select latchkey.prune_expired_challenges(${challengePruneBatch}) as deleted`,
    );
    total += deleted;
    if (deleted < challengePruneBatch) break;
  }
  if (total > 0) log("debug", "challenges_pruned", { deleted: total });
  return total;
}
