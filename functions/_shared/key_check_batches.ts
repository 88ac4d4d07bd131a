import { type RequestInfo, type Sql, withinTimeout } from "./database.ts";

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
  user_email_verified_at: Date | null;
}

interface PendingCheck {
  hash: string;
  request: RequestInfo;
  resolve: (row: KeyCheckRow | undefined) => void;
  reject: (error: unknown) => void;
}

/**
 * Coalesces checks of the same key: while a check of a key runs, later checks of that key
 * wait, and go together as one `latchkey.verify_api_keys` statement when it is done. A hot key
 * under load pays one round trip, one commit and one lock of its meter row per batch instead
 * of per check; checks of different keys never wait for each other (and never share a
 * transaction, so they never lock each other's rows). Each check still runs the same function,
 * in arrival order, so limits stay exact and each caller gets its own answer.
 */
class KeyCheckBatches {
  /** Per key with a statement running: the checks waiting for it to finish. */
  private waiting = new Map<string, PendingCheck[]>();
  /** Statements sent and checks answered, for the tests and for diagnosis. */
  readonly stats = { statements: 0, checks: 0, largestBatch: 0 };

  constructor(private readonly sql: Sql, private readonly maxBatch: number) {}

  check(hash: string, request: RequestInfo): Promise<KeyCheckRow | undefined> {
    return new Promise((resolve, reject) => {
      const pending = { hash, request, resolve, reject };
      const queue = this.waiting.get(hash);
      if (queue) {
        queue.push(pending);
        return;
      }
      this.waiting.set(hash, []);
      this.run(hash, [pending]);
    });
  }

  private run(hash: string, batch: PendingCheck[]): void {
    this.query(batch).then(
      (rows) => batch.forEach((pending, index) => pending.resolve(rows[index])),
      (error) => batch.forEach((pending) => pending.reject(error)),
    ).finally(() => {
      const queue = this.waiting.get(hash)!;
      if (queue.length === 0) {
        this.waiting.delete(hash);
        return;
      }
      this.run(hash, queue.splice(0, this.maxBatch));
    });
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
    const checks = batch.map(({ hash, request }) => ({ hash, request }));
    const rows = await withinTimeout(
      sql,
      sql<(KeyCheckRow & { ordinality: string })[]>`
        select * from latchkey.verify_api_keys(${sql.json(checks as never)})`,
    );
    const answers: (KeyCheckRow | undefined)[] = new Array(batch.length);
    for (const row of rows) answers[Number(row.ordinality) - 1] = row;
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
 * `maxBatch` checks of one key per statement (1: no coalescing).
 */
export function checkKey(
  sql: Sql,
  hash: string,
  request: RequestInfo,
  maxBatch: number,
): Promise<KeyCheckRow | undefined> {
  let batches = batchesBySql.get(sql);
  if (!batches) {
    batches = new KeyCheckBatches(sql, maxBatch);
    batchesBySql.set(sql, batches);
  }
  return batches.check(hash, request);
}
