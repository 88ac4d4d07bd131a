import type { Config } from "../config/config.ts";
import {
  type RequestInfo,
  requestJson,
  type Sql,
  sqlState,
  withStatementTimeout,
} from "../db/database.ts";
import type { KeyUse } from "./network_limits.ts";

/**
 * One row of `latchkey.check_api_key` (the user's columns are null for an organization's key),
 * with the catalogue permissions the key holds now (latchkey.key_permission_names, in the same
 * statement: what the key's scopes grant is decided on this request's rows, its owner's role or
 * its organization's ceiling). A key whose scopes are all application scopes (most keys:
 * `compile`) holds no permission whatever its owner may grant, so nothing is looked up: empty.
 */
export interface KeyCheckRow {
  code: string;
  key_id: string | null;
  user_id: string | null;
  org_id: string | null;
  scopes: string[] | null;
  /** What the key's organization lets its keys hold; null: the default (the role user's). */
  org_key_permissions: string[] | null;
  rate_limit: number | null;
  rate_limit_remaining: number | null;
  reset_at: Date | null;
  credits_remaining: number | null;
  /**
   * VALID: the key's metadata. NETWORK_NOT_ALLOWED: `{networkRefusal}`, why (the row's shape
   * predates network limits, and a function's shape cannot change where migrations run again).
   */
  metadata: Record<string, unknown> | null;
  user_email: string | null;
  user_name: string | null;
  user_role: string | null;
  user_tier: string | null;
  user_created_at: Date | null;
  user_email_verified_at: Date | null;
  permissions: string[];
  /** How long a verifier may reuse this answer (latchkey.key_cache_seconds); null: not at all. */
  cache_seconds: number | null;
}

/** What a check sends as its request: the audit's fields and where the key is used from. */
type CheckRequest = Pick<RequestInfo, "requestId" | "ip" | "userAgent"> & KeyUse;

interface PendingCheck {
  hash: string;
  request: CheckRequest;
  resolve: (row: KeyCheckRow | undefined) => void;
  reject: (error: unknown) => void;
}

/**
 * Coalesces key checks in lanes: a key's checks always take the same lane (by its hash), and a
 * lane runs one statement at a time, so checks that arrive while their lane is busy go
 * together as one `latchkey.check_api_keys` statement when it is free. There are as many
 * lanes as the pool has connections, and two lanes never touch one key's rows, so batches
 * never wait on each other's locks (a batch holds its rows until it commits). A hot key under
 * load pays one round trip, one commit and one lock of its meter row per batch instead of per
 * check. Each check still runs the same function, in arrival order, so limits stay exact and
 * each caller gets its own answer.
 */
class KeyCheckLanes {
  private readonly lanes: { busy: boolean; waiting: PendingCheck[] }[];
  /** Statements sent and checks answered, for the tests and for diagnosis. */
  readonly stats = { lanes: 0, statements: 0, checks: 0, largestBatch: 0, mostInFlight: 0 };
  private inFlight = 0;

  constructor(
    private readonly sql: Sql,
    laneCount: number,
    private readonly maxBatch: number,
    private readonly appScopes: readonly string[],
    private readonly defaultCacheSeconds: number,
  ) {
    this.lanes = Array.from({ length: laneCount }, () => ({ busy: false, waiting: [] }));
    this.stats.lanes = laneCount;
  }

  check(hash: string, request: CheckRequest): Promise<KeyCheckRow | undefined> {
    return new Promise((resolve, reject) => {
      const lane = this.lanes[parseInt(hash.slice(0, 8), 16) % this.lanes.length];
      lane.waiting.push({ hash, request, resolve, reject });
      if (!lane.busy) this.run(lane);
    });
  }

  private run(lane: KeyCheckLanes["lanes"][number]): void {
    lane.busy = true;
    const batch = lane.waiting.splice(0, this.maxBatch);
    this.inFlight += 1;
    this.stats.mostInFlight = Math.max(this.stats.mostInFlight, this.inFlight);
    this.answer(batch).finally(() => {
      this.inFlight -= 1;
      if (lane.waiting.length > 0) this.run(lane);
      else lane.busy = false;
    });
  }

  private async answer(batch: PendingCheck[]): Promise<void> {
    try {
      const rows = await this.query(batch);
      batch.forEach((pending, index) => pending.resolve(rows[index]));
    } catch (error) {
      // A batch locks its keys' rows in the keys' hash order, so batches of other lanes and
      // other isolates queue behind it rather than deadlock; but a key in a rotation's overlap
      // is metered on its successor's row, out of that order, so two such batches still can,
      // and PostgreSQL aborts one. Its checks run again one by one.
      if (batch.length > 1 && sqlState(error) === "40P01") {
        for (const pending of batch) await this.answer([pending]);
        return;
      }
      batch.forEach((pending) => pending.reject(error));
    }
  }

  private async query(batch: PendingCheck[]): Promise<(KeyCheckRow | undefined)[]> {
    const sql = this.sql;
    // What the key holds now, and how long its answer may be reused: only an answer with no rate
    // limit and no credits may be, so any other key's check pays nothing for that question.
    const derived = sql`
      case when coalesce(v.scopes, '{}') <@ ${this.appScopes as string[]}::text[] then '{}'
        else latchkey.key_permission_names(v.scopes, v.user_role, v.org_id, v.org_key_permissions)
      end as permissions,
      case when v.code = 'VALID' and v.rate_limit is null and v.credits_remaining is null
        then latchkey.key_cache_seconds(v.key_id, ${this.defaultCacheSeconds}::integer)
      end as cache_seconds`;
    this.stats.statements += 1;
    this.stats.checks += batch.length;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    if (batch.length === 1) {
      const [only] = batch;
      const [row] = await withStatementTimeout(
        sql,
        sql<KeyCheckRow[]>`
          select v.*, ${derived}
          from latchkey.check_api_key(
            decode(${only.hash}, 'hex'), ${requestJson(sql, only.request)}) as v`,
      );
      return [row];
    }
    const checks = batch.map(({ hash, request }) => ({ hash, request }));
    const rows = await withStatementTimeout(
      sql,
      sql<(KeyCheckRow & { ordinality: string })[]>`
        select v.*, ${derived}
        from latchkey.check_api_keys(${sql.json(checks as never)}) as v`,
    );
    const answers: (KeyCheckRow | undefined)[] = new Array(batch.length);
    for (const row of rows) answers[Number(row.ordinality) - 1] = row;
    return answers;
  }
}

const batchesBySql = new WeakMap<Sql, KeyCheckLanes>();

/** How the client's checks were sent so far; null before its first check. */
export function keyCheckStats(sql: Sql): KeyCheckLanes["stats"] | null {
  return batchesBySql.get(sql)?.stats ?? null;
}

/**
 * Checks one key (by the hex SHA-256 of the key), used from `use` (its network limits), through
 * the client's lanes —
 * LATCHKEY_KEY_CHECK_LANES, at most one per pooled connection — with at most
 * LATCHKEY_KEY_CHECK_BATCH_MAX checks per statement (1: no coalescing). Fewer lanes than
 * connections leave the rest of the pool to other routes, and make bigger batches: less
 * database work per check. The settings (and LATCHKEY_SCOPES, LATCHKEY_KEY_CACHE_SECONDS) are
 * read once, when the client's lanes are made.
 */
export function checkKey(
  sql: Sql,
  hash: string,
  request: RequestInfo,
  use: KeyUse,
  config: Pick<
    Config,
    | "LATCHKEY_KEY_CHECK_BATCH_MAX"
    | "LATCHKEY_KEY_CHECK_LANES"
    | "LATCHKEY_SCOPES"
    | "LATCHKEY_KEY_CACHE_SECONDS"
  >,
): Promise<KeyCheckRow | undefined> {
  let batches = batchesBySql.get(sql);
  if (!batches) {
    const pool = Number(sql.options.max) || 1;
    const laneCount = Math.max(1, Math.min(config.LATCHKEY_KEY_CHECK_LANES, pool));
    batches = new KeyCheckLanes(
      sql,
      laneCount,
      config.LATCHKEY_KEY_CHECK_BATCH_MAX,
      config.LATCHKEY_SCOPES,
      config.LATCHKEY_KEY_CACHE_SECONDS,
    );
    batchesBySql.set(sql, batches);
  }
  // A key check's events (refusals) cause no account notification: the enabled kinds
  // (`notify`) are not sent with every check of the hot path.
  const { requestId, ip, userAgent } = request;
  return batches.check(hash, { requestId, ip, userAgent, ...use });
}
