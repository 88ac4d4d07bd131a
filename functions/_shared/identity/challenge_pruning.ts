import type { Runtime } from "../db/runtime.ts";
import { deleteInBatches, pruneAfterResponse } from "../housekeeping/batched_pruning.ts";
import { log } from "../config/log.ts";

/**
 * Expired sign-in challenges (latchkey.sessions with purpose 'mfa_challenge', minutes long) and
 * expired passkey challenges (latchkey.webauthn_challenges) go after answers, in batches
 * (`latchkey.prune_expired_challenges` lets one isolate at a time do it). Sessions themselves
 * stay after they expire: the audit log files events under their ids.
 */
/** Rows a batch deletes at most, of each kind. */
export const challengePruneBatch = 1_000;

export function pruneChallengesInBackground(runtime: Runtime): void {
  pruneAfterResponse(runtime, "challenge_prune_failed", pruneExpiredChallenges);
}

/** One pruning run; returns how many rows it deleted. */
export async function pruneExpiredChallenges(runtime: Runtime): Promise<number> {
  const total = await deleteInBatches(
    runtime,
    challengePruneBatch,
    (sql) =>
      sql<{ deleted: number }[]>`
      select latchkey.prune_expired_challenges(${challengePruneBatch}) as deleted`,
  );
  if (total > 0) log("debug", "challenges_pruned", { deleted: total });
  return total;
}
