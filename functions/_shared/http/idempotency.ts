import { sha256Hex } from "../ground/crypto.ts";
import { type Transaction } from "../db/database.ts";
import { ApiError } from "../ground/errors.ts";
import { type AppContext } from "./context.ts";
import { asCaller } from "./request.ts";

export interface RouteResult {
  status: 200 | 201 | 202;
  body: Record<string, unknown>;
  /** What a replay answers, when it must differ (a key's secret is never stored). */
  replayBody?: Record<string, unknown>;
}

interface StoredRecord {
  request_hash: string;
  status: number;
  response: Record<string, unknown>;
}

/**
 * Runs a POST in the caller's transaction, honouring `Idempotency-Key`: the first request's
 * response is stored in the same transaction as what it created; the same key with the same
 * request replays it (`Idempotency-Replayed: true`), with another request answers 409. A
 * concurrent duplicate blocks on the record's primary key until the first commits, then replays.
 */
export async function respondIdempotently(
  c: AppContext,
  work: (tx: Transaction) => Promise<RouteResult>,
): Promise<Response> {
  if (!c.get("idempotent")) {
    // A bug, caught by any test of the route: its document would not list the header.
    throw new Error("a route honours Idempotency-Key without declaring `idempotent: true`");
  }
  const key = c.req.header("idempotency-key");
  if (key === undefined) {
    const result = await asCaller(c, work);
    return c.json(result.body, result.status);
  }
  if (key.length < 1 || key.length > 255) {
    throw new ApiError("validation_failed", {
      details: [{ path: "Idempotency-Key", message: "Use 1 to 255 characters." }],
    });
  }
  const fingerprint = sha256Hex(`${c.req.method} ${c.req.path}\n${await c.req.text()}`);
  const outcome = await asCaller(c, async (tx) => {
    const claimed = await tx`
      insert into latchkey.idempotency_records (owner, idempotency_key, request_hash)
      values (latchkey.current_idempotency_owner(), ${key}, decode(${fingerprint}, 'hex'))
      on conflict do nothing
      returning 1`;
    if (claimed.length === 0) {
      const [stored] = await tx<StoredRecord[]>`
        select encode(request_hash, 'hex') as request_hash, status, response
        from latchkey.idempotency_records
        where owner = latchkey.current_idempotency_owner() and idempotency_key = ${key}`;
      if (stored.request_hash !== fingerprint) throw new ApiError("idempotency_key_reused");
      return { replay: stored as StoredRecord, fresh: null };
    }
    const result = await work(tx);
    await tx`
      update latchkey.idempotency_records
      set status = ${result.status}, response = ${
      tx.json(
        (result.replayBody ?? result.body) as Parameters<typeof tx.json>[0],
      )
    }
      where owner = latchkey.current_idempotency_owner() and idempotency_key = ${key}`;
    return { replay: null, fresh: result };
  });
  if (outcome.replay) {
    return c.json(outcome.replay.response, outcome.replay.status as 200, {
      "Idempotency-Replayed": "true",
    });
  }
  return c.json(outcome.fresh!.body, outcome.fresh!.status);
}
