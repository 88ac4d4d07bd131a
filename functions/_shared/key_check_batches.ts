import { type RequestInfo, type Sql, sqlState, withinTimeout } from "./database.ts";

/** One row of `latchkey.verify_api_key`. */
export interface KeyCheckRow {
  code: string;
  key_id: string | null;
  user_id: string | null;
  scopes: string[] | null;
  rate_limit: number | null;
  rate_limit_remaining: number | null;
  reset_at: Date | null;
  credits_remaining: number | null;
  metadata: Record<string, unknown> | null;
  user_email: string;
  user_name: string;
  user_role: string;
  user_tier: string;
  user_created_at: Date;
}

interface PendingCheck {
  hash: string;
  request: RequestInfo;
  resolve: (row: KeyCheckRow | undefined) => void;
  reject: (error: unknown) => void;
}

/**
 * Coalesces key checks: while every connection of the pool is busy with one, the checks that
 * arrive wait here and go together as one `latchkey.verify_api_keys` statement when a
 * connection frees. An idle service sends each check alone at once (no added latency); a busy
 * one pays one round trip and one commit per batch, and a hot key's meter row is locked once
 * per batch. Each check still runs the same function in order, so limits stay exact and each
 * caller gets its own answer.
 */
class KeyCheckBatches {
  private waiting: PendingCheck[] = [];
  private running = 0;
  /** Statements sent and checks answered, for the tests and for diagnosis. */
  readonly stats = { statements: 0, checks: 0, largestBatch: 0 };

  constructor(
    private readonly sql: Sql,
    private readonly maxRunning: number,
    private readonly maxBatch: number,
  ) {}

  check(hash: string, request: RequestInfo): Promise<KeyCheckRow | undefined> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ hash, request, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.running < this.maxRunning && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.maxBatch);
      this.running += 1;
      this.run(batch).finally(() => {
        this.running -= 1;
        this.dispatch();
      });
    }
  }

  private async run(batch: PendingCheck[]): Promise<void> {
    try {
      const rows = await this.query(batch);
      for (const [index, pending] of batch.entries()) pending.resolve(rows[index]);
    } catch (error) {
      // Two batches that lock the same rows in another order (a rotated key's successor):
      // PostgreSQL aborts one; its checks run again one by one.
      if (batch.length > 1 && sqlState(error) === "40P01") {
        await Promise.all(batch.map((pending) => this.run([pending])));
        return;
      }
      for (const pending of batch) pending.reject(error);
    }
  }

  private async query(batch: PendingCheck[]): Promise<(KeyCheckRow | undefined)[]> {
    const sql = this.sql;
    this.stats.statements += 1;
    this.stats.checks += batch.length;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    if (batch.length === 1) {
      const [only] = batch;
      const [row] = await withinTimeout(
        sql,
        sql<KeyCheckRow[]>`
          select * from latchkey.verify_api_key(
            decode(${only.hash}, 'hex'), ${sql.json({ ...only.request })})`,
      );
      return [row];
    }
    // In hash order, so concurrent batches take their row locks in the same order.
    const order = batch.map((_, index) => index).sort((a, b) =>
      batch[a].hash < batch[b].hash ? -1 : batch[a].hash > batch[b].hash ? 1 : 0
    );
    const checks = order.map((index) => ({
      hash: batch[index].hash,
      request: batch[index].request,
    }));
    const rows = await withinTimeout(
      sql,
      sql<(KeyCheckRow & { ordinality: string })[]>`
        select * from latchkey.verify_api_keys(${sql.json(checks as never)})`,
    );
    const answers: (KeyCheckRow | undefined)[] = new Array(batch.length);
    for (const row of rows) answers[order[Number(row.ordinality) - 1]] = row;
    return answers;
  }
}

const batchesBySql = new WeakMap<Sql, KeyCheckBatches>();

/** How the client's checks were sent so far; null before its first check. */
export function keyCheckStats(sql: Sql): KeyCheckBatches["stats"] | null {
  return batchesBySql.get(sql)?.stats ?? null;
}

/**
 * Checks one key (by the hex SHA-256 of the key) through the client's batches: at most
 * `maxBatch` checks per statement (1: no coalescing), as many statements at once as the pool
 * has connections.
 */
export function checkKey(
  sql: Sql,
  hash: string,
  request: RequestInfo,
  maxBatch: number,
): Promise<KeyCheckRow | undefined> {
  let batches = batchesBySql.get(sql);
  if (!batches) {
    batches = new KeyCheckBatches(sql, Math.max(1, Number(sql.options.max) || 1), maxBatch);
    batchesBySql.set(sql, batches);
  }
  return batches.check(hash, request);
}
