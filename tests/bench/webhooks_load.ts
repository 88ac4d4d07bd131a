import postgres from "postgres";
import { startTestServer } from "../support/server.ts";
import { type Receiver, startReceiver, verifyMessage } from "../support/webhook_receiver.ts";
import { runWrk, runWrkUntil, verifyScript, type WrkResult } from "./wrk.ts";

/**
 * Webhooks under load (issue 30, item 6): key verification at 64 connections while a burst of
 * audit events goes out to three endpoints (two live receivers on this machine, one dead: a
 * port that accepts connections and never answers), against the same burst with the endpoints
 * disabled (and, first, before any was registered), in alternating runs so the machine's drift
 * falls on both sides; after each burst to the endpoints, how long the live ones' backlogs take
 * to drain (every message verified with the `standardwebhooks` library, as a team's receiver
 * would), and that the dead one's backlog is held at LATCHKEY_WEBHOOK_BACKLOG_LIMIT with the
 * drop audited.
 *
 * The burst is written the way audited requests write events, one event per transaction
 * (`latchkey.append_audit_event`, so the queueing trigger runs in each), from 4 connections of
 * this process, paced to take BENCH_SECONDS - 1 (the verification runs as long as the burst
 * takes). The receivers record what they get, verified once the backlog has drained, so their
 * signature checks stay out of the measured window and the drain, as a remote receiver's would;
 * serving the messages still takes this machine's cores.
 */
export interface WebhookLoad {
  keys: number;
  events: number;
  limit: number;
  connections: number;
  seconds: number;
  /** In the order they ran: without, with, without, with, ..., without. */
  runs: LoadRun[];
  /** One per run with the endpoints enabled. */
  rounds: Round[];
  dead: DeadEndpoint;
  settings: Record<string, string>;
}

interface LoadRun {
  endpoints: "none yet" | "3 disabled" | "2 live, 1 dead";
  result: WrkResult;
  burstMs: number;
  /** CPU seconds of each of this benchmark's programs over the run (its burst included). */
  cpu: CpuSeconds;
}

interface Round {
  live: LiveEndpoint[];
  /** The dead endpoint's backlog: its peak (sampled every 5 s), at the run's end, drained. */
  deadPeakBacklog: number;
  deadBacklogAtEnd: number;
  deadBacklogAfterDrain: number;
}

interface LiveEndpoint {
  /** Distinct burst events received, and messages that failed verification (the first why). */
  received: number;
  duplicates: number;
  unverified: number;
  firstError: string;
  /** From the burst's first event to the last of them received; and from its last event. */
  drainMs: number;
  drainAfterBurstMs: number;
  /** Written (the event's timestamp) to received, over the burst's events. */
  latencyP50Ms: number;
  latencyP99Ms: number;
  peakBacklog: number;
}

interface DeadEndpoint {
  dropped: number;
  liveDropped: number;
  /** Its webhook.backlog_dropped events, and the drops they report. */
  dropEvents: number;
  dropsReported: number;
  connectionsAccepted: number;
  minutes: number;
}

/** Clock ticks (utime + stime) of a process, and of its reaped children; 0 once gone. */
function ticksOf(pid: number): { own: number; children: number; ppid: number; name: string } {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const close = stat.lastIndexOf(")");
    const fields = stat.slice(close + 2).split(" ");
    return {
      own: Number(fields[11]) + Number(fields[12]),
      children: Number(fields[13]) + Number(fields[14]),
      ppid: Number(fields[1]),
      name: stat.slice(stat.indexOf("(") + 1, close),
    };
  } catch {
    return { own: 0, children: 0, ppid: 0, name: "" };
  }
}

/** CPU seconds so far of this benchmark's own programs (other processes on the machine aside). */
function cpuSeconds(gatewayPid: number, postmasterPid: number): CpuSeconds {
  let postgresTicks = 0;
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const pid = Number(entry.name);
    if (pid === postmasterPid) {
      postgresTicks += ticksOf(pid).own;
      continue;
    }
    const process = ticksOf(pid);
    if (process.ppid === postmasterPid) postgresTicks += process.own;
  }
  const bench = ticksOf(Deno.pid);
  return {
    gateway: ticksOf(gatewayPid).own / 100,
    postgres: postgresTicks / 100,
    // Receivers and the burst's writer run here; wrk is a child, counted once reaped.
    bench: bench.own / 100,
    wrk: bench.children / 100,
  };
}

interface CpuSeconds {
  gateway: number;
  postgres: number;
  bench: number;
  wrk: number;
}

function cpuBetween(before: CpuSeconds, after: CpuSeconds): CpuSeconds {
  return {
    gateway: after.gateway - before.gateway,
    postgres: after.postgres - before.postgres,
    bench: after.bench - before.bench,
    wrk: after.wrk - before.wrk,
  };
}

const connections = 64;
const burstConnections = 4;

/** A port that accepts connections and never reads or answers. */
function startDeadEndpoint() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  (async () => {
    for await (const conn of listener) held.push(conn);
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    accepted: () => held.length,
    close() {
      listener.close();
      for (const conn of held) {
        try {
          conn.close();
        } catch {
          // The deliverer gave up and closed it first.
        }
      }
    },
  };
}

/**
 * `events` audit events, one per transaction, evenly over `ms`; answers how long until the last
 * committed.
 */
async function burst(
  sql: postgres.Sql,
  run: string,
  events: number,
  ms: number,
  progress = { committed: 0 },
) {
  const started = performance.now();
  const pending: Promise<unknown>[] = [];
  let sent = 0;
  while (sent < events) {
    const due = Math.min(events, Math.ceil(((performance.now() - started) / ms) * events));
    for (; sent < due; sent++) {
      pending.push(sql`
        select latchkey.append_audit_event('system', null, null, 'bench.burst', null, null,
          '{}'::jsonb, jsonb_build_object('run', ${run}::text, 'n', ${sent}::int))`
        .then(() => progress.committed++));
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await Promise.all(pending);
  return { startedAt: performance.timeOrigin + started, ms: performance.now() - started };
}

interface Backlogs {
  [endpointId: string]: number;
}

/** One endpoint's undelivered messages, counted on the backlog's own index. */
async function backlogOf(sql: postgres.Sql, endpointId: string): Promise<number> {
  const [{ pending }] = await sql<{ pending: number }[]>`
    select count(*)::int as pending from latchkey.webhook_deliveries
    where endpoint_id = ${endpointId} and delivered_at is null and failed_at is null`;
  return pending;
}

/** Each endpoint's undelivered messages, counted on the backlog's own index. */
async function backlogs(sql: postgres.Sql): Promise<Backlogs> {
  const rows = await sql<{ id: string; pending: number }[]>`
    select e.id, (select count(*)::int from latchkey.webhook_deliveries d
      where d.endpoint_id = e.id and d.delivered_at is null and d.failed_at is null) as pending
    from latchkey.webhook_endpoints e`;
  return Object.fromEntries(rows.map((row) => [row.id, row.pending]));
}

function percentile(sorted: number[], share: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] ?? NaN;
}

/**
 * The burst events of `run` a receiver got: `read()` takes what came since the last call (its
 * first arrival, epoch ms, and latency; cheap, so the receivers' event loop is not held up while
 * the backlog drains), `verify()` checks every message of the round with the `standardwebhooks`
 * library afterwards (within its five minutes of tolerance).
 */
function burstArrivals(receiver: Receiver, secret: string, run: string, from: number) {
  const firstArrival = new Map<number, number>();
  const latencies: number[] = [];
  const tally = { unverified: 0, duplicates: 0, firstError: "" };
  let read = from;
  return {
    firstArrival,
    latencies,
    tally,
    read() {
      for (; read < receiver.messages.length; read++) {
        const message = receiver.messages[read];
        const payload = JSON.parse(message.body) as {
          type: string;
          timestamp: string;
          data: { metadata: Record<string, unknown> };
        };
        if (payload.type !== "bench.burst" || payload.data.metadata.run !== run) continue;
        const n = payload.data.metadata.n as number;
        if (firstArrival.has(n)) {
          tally.duplicates++;
          continue;
        }
        const arrivedAt = performance.timeOrigin + message.receivedAt;
        firstArrival.set(n, arrivedAt);
        latencies.push(arrivedAt - Date.parse(payload.timestamp));
      }
      return firstArrival.size;
    },
    verify() {
      for (const message of receiver.messages.slice(from)) {
        try {
          verifyMessage(secret, message);
        } catch (error) {
          tally.unverified++;
          tally.firstError ||= String(error);
        }
      }
    },
  };
}

/** Resets PostgreSQL's statistics; `print` then shows what was spent since, by statement. */
async function startStatements(superuserUrl: string) {
  const admin = postgres(superuserUrl, { max: 1, onnotice: () => {} });
  await admin`create extension if not exists pg_stat_statements`;
  await admin`select pg_stat_statements_reset(), pg_stat_reset(), pg_stat_reset_shared('wal')`;
  return {
    async print(run: string) {
      try {
        const statements = await admin<
          { ms: number; calls: number; rows: number; query: string }[]
        >`
          select round(total_exec_time)::int as ms, calls::int, rows::int,
            left(regexp_replace(query, '[[:space:]]+', ' ', 'g'), 140) as query
          from pg_stat_statements order by total_exec_time desc limit 15`;
        for (const s of statements) {
          console.log(
            `  ${run} statement: ${s.ms} ms, ${s.calls} calls, ${s.rows} rows: ${s.query}`,
          );
        }
        const tables = await admin`
          select relname, seq_scan, idx_scan, idx_tup_fetch, n_tup_ins, n_tup_upd, n_tup_hot_upd,
            n_tup_del, autovacuum_count
          from pg_stat_all_tables
          where schemaname = 'latchkey' and n_tup_ins + n_tup_upd + n_tup_del + idx_tup_fetch > 1000
          order by relname`;
        for (const table of tables) console.log(`  ${run} table: ${JSON.stringify(table)}`);
        const [wal] = await admin`select wal_records, wal_fpi, wal_bytes from pg_stat_wal`;
        console.log(`  ${run} WAL: ${JSON.stringify(wal)}`);
      } finally {
        await admin.end();
      }
    },
  };
}

export async function measureWebhooksUnderLoad(
  databaseUrl: string,
  baseEnv: Record<string, string>,
  denoFlags: string[],
  keys: string[],
  seconds: number,
  /** With BENCH_PG_STATS=1 (bench.ts): each run's cost to PostgreSQL is printed. */
  statsUrl?: string,
): Promise<WebhookLoad> {
  const events = Number(Deno.env.get("BENCH_WEBHOOK_EVENTS") ?? 10_000);
  const limit = Number(Deno.env.get("BENCH_WEBHOOK_BACKLOG_LIMIT") ?? 10_000);
  const roundCount = Number(Deno.env.get("BENCH_WEBHOOK_ROUNDS") ?? 3);
  const adminKey = crypto.randomUUID() + crypto.randomUUID();
  const settings = {
    LATCHKEY_ADMIN_KEY: adminKey,
    LATCHKEY_MFA_ENCRYPTION_KEY: btoa(
      String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))),
    ),
    LATCHKEY_WEBHOOK_ALLOW_ADDRESSES: "127.0.0.1",
    // The shipped default unless the run asks for another.
    ...(limit === 10_000 ? {} : { LATCHKEY_WEBHOOK_BACKLOG_LIMIT: String(limit) }),
  };
  const server = await startTestServer(databaseUrl, { ...baseEnv, ...settings }, denoFlags);
  const api = `${server.baseUrl}/functions/v1`;
  console.log(`webhooks: server ${server.baseUrl}, log ${server.logPath}`);
  const sql = postgres(databaseUrl, { max: burstConnections, onnotice: () => {} });
  const sampler = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  const receivers = [startReceiver(), startReceiver()];
  const dead = startDeadEndpoint();
  const admin = { "x-admin-key": adminKey, "content-type": "application/json" };
  const verify = `${api}/keys/verify`;
  const script = verifyScript(keys);
  const burstMs = Math.max(1, seconds - 1) * 1000;
  const startedAt = Date.now();
  const runs: LoadRun[] = [];
  const rounds: Round[] = [];
  const line = (result: WrkResult) =>
    `${result.rps.toFixed(0)} req/s, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${
      result.p99Ms.toFixed(2)
    } ms`;
  /** One verification run with a burst beside it. */
  const [{ pid: backend }] = await sampler<{ pid: number }[]>`select pg_backend_pid() as pid`;
  const postmaster = ticksOf(backend).ppid;
  const measure = async (
    endpoints: LoadRun["endpoints"],
    run: string,
    progress = { committed: 0 },
  ) => {
    const stats = statsUrl ? await startStatements(statsUrl) : null;
    const before = cpuSeconds(server.pid, postmaster);
    const writing = burst(sql, run, events, burstMs, progress);
    const [result, written] = await Promise.all([
      runWrkUntil(verify, connections, script, writing),
      writing,
    ]);
    const cpu = cpuBetween(before, cpuSeconds(server.pid, postmaster));
    if (stats) await stats.print(run);
    runs.push({ endpoints, result, burstMs: written.ms, cpu });
    console.log(
      `webhooks: ${run} (${endpoints}): verify ${line(result)}; burst ${
        (written.ms / 1000).toFixed(1)
      } s; CPU s ${JSON.stringify(cpu)}`,
    );
    return written;
  };
  const setEnabled = async (endpoints: { id: string }[], enabled: boolean) => {
    for (const endpoint of endpoints) {
      const answer = await fetch(`${api}/admin/webhooks/${endpoint.id}`, {
        method: "PATCH",
        headers: admin,
        body: JSON.stringify({ enabled }),
      });
      await answer.body?.cancel();
      if (answer.status !== 200) throw new Error(`enabled ${enabled}: ${answer.status}`);
    }
  };
  /** A light request every 100 ms: the deliverer's sweeps and trims run after answers. */
  const trickle = async () => {
    await (await fetch(`${api}/version/health`)).body?.cancel();
    await new Promise((resolve) => setTimeout(resolve, 100));
  };
  try {
    await runWrk(verify, 16, script, Math.min(5, seconds));
    await measure("none yet", "w0");

    const register = async (port: number) => {
      const answer = await fetch(`${api}/admin/webhooks`, {
        method: "POST",
        headers: admin,
        body: JSON.stringify({ url: `http://127.0.0.1:${port}/hooks`, events: ["*"] }),
      });
      const body = await answer.json();
      if (answer.status !== 201) throw new Error(`registering: ${JSON.stringify(body)}`);
      return body as { id: string; secret: string };
    };
    const live = [await register(receivers[0].port), await register(receivers[1].port)];
    const deadEndpoint = await register(dead.port);
    const all = [...live, deadEndpoint];

    for (let round = 1; round <= roundCount; round++) {
      if (round > 1) await setEnabled(all, true);
      // The live backlogs from this process's own counts (events committed, messages
      // received), every second; the dead one's from the database every 5 s (a count reads its
      // whole backlog, work the runs without endpoints would not have).
      const run = `e${round}`;
      const from = receivers.map((receiver) => receiver.messages.length);
      const progress = { committed: 0 };
      const livePeaks = [0, 0];
      const deadTimeline: number[] = [];
      let sampling = true;
      const sampledLive = (async () => {
        while (sampling) {
          receivers.forEach((receiver, i) => {
            const backlog = progress.committed - (receiver.messages.length - from[i]);
            livePeaks[i] = Math.max(livePeaks[i], backlog);
          });
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      })();
      const sampledDead = (async () => {
        while (sampling) {
          deadTimeline.push(await backlogOf(sampler, deadEndpoint.id));
          await new Promise((resolve) => setTimeout(resolve, 5000));
        }
      })();
      const written = await measure("2 live, 1 dead", run, progress);
      const deadBacklogAtEnd = await backlogOf(sampler, deadEndpoint.id);
      const arrivals = live.map((endpoint, i) =>
        burstArrivals(receivers[i], endpoint.secret, run, from[i])
      );
      const deadline = Date.now() + 600_000;
      let progressAt = Date.now();
      while (arrivals.some((arrived) => arrived.read() < events) && Date.now() < deadline) {
        await trickle();
        if (Date.now() - progressAt >= 5_000) {
          progressAt = Date.now();
          console.log(
            `webhooks: received ${
              arrivals.map((arrived) => arrived.firstArrival.size).join(", ")
            } of ${events}; backlogs ${JSON.stringify(await backlogs(sampler))}`,
          );
        }
      }
      // Two more trims' worth of requests, then the dead endpoint's backlog.
      for (let i = 0; i < 25; i++) await trickle();
      sampling = false;
      await Promise.all([sampledLive, sampledDead]);
      const deadBacklogAfterDrain = await backlogOf(sampler, deadEndpoint.id);
      rounds.push({
        live: arrivals.map((arrived, i) => {
          arrived.read();
          arrived.verify();
          arrived.latencies.sort((a, b) => a - b);
          const last = Math.max(...arrived.firstArrival.values());
          return {
            received: arrived.firstArrival.size,
            duplicates: arrived.tally.duplicates,
            unverified: arrived.tally.unverified,
            firstError: arrived.tally.firstError,
            drainMs: last - written.startedAt,
            drainAfterBurstMs: last - (written.startedAt + written.ms),
            latencyP50Ms: percentile(arrived.latencies, 0.5),
            latencyP99Ms: percentile(arrived.latencies, 0.99),
            peakBacklog: livePeaks[i],
          };
        }),
        deadPeakBacklog: Math.max(...deadTimeline, deadBacklogAtEnd),
        deadBacklogAtEnd,
        deadBacklogAfterDrain,
      });
      console.log(`webhooks: round ${round}: ${JSON.stringify(rounds.at(-1))}`);
      console.log(`webhooks: the dead endpoint's backlog every 5 s: ${deadTimeline.join(" ")}`);
      console.log(
        `webhooks: deliveries by endpoint and state: ${
          JSON.stringify(
            await sampler`
              select endpoint_id, count(*) filter (where delivered_at is not null) as delivered,
                count(*) filter (where dropped_at is not null) as dropped,
                count(*) filter (where failed_at is not null and dropped_at is null) as failed,
                count(*) filter (where delivered_at is null and failed_at is null) as pending,
                max(attempts) as most_attempts, min(last_error) as an_error
              from latchkey.webhook_deliveries group by 1`,
          )
        }`,
      );
      await setEnabled(all, false);
      await measure("3 disabled", `w${round}`);
    }

    const dropped = await sampler<{ endpoint_id: string; dropped: number }[]>`
      select endpoint_id, count(*)::int as dropped from latchkey.webhook_deliveries
      where dropped_at is not null group by endpoint_id`;
    const droppedOf = (id: string) => dropped.find((row) => row.endpoint_id === id)?.dropped ?? 0;
    const [dropEvents] = await sampler<{ events: number; reported: number }[]>`
      select count(*)::int as events, coalesce(sum((metadata ->> 'dropped')::int
        + (metadata ->> 'droppedSincePreviousEvent')::int), 0)::int as reported
      from latchkey.audit_events
      where action = 'webhook.backlog_dropped' and target_id = ${deadEndpoint.id}`;
    return {
      keys: keys.length,
      events,
      limit,
      connections,
      seconds,
      runs,
      rounds,
      dead: {
        dropped: droppedOf(deadEndpoint.id),
        liveDropped: droppedOf(live[0].id) + droppedOf(live[1].id),
        dropEvents: dropEvents.events,
        dropsReported: dropEvents.reported,
        connectionsAccepted: dead.accepted(),
        minutes: Math.ceil((Date.now() - startedAt) / 60_000),
      },
      settings,
    };
  } finally {
    await server.stop();
    await Promise.all(receivers.map((receiver) => receiver.close()));
    dead.close();
    await sql.end();
    await sampler.end();
  }
}

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function medians(runs: LoadRun[]) {
  return {
    rps: median(runs.map((run) => run.result.rps)),
    p50Ms: median(runs.map((run) => run.result.p50Ms)),
    p99Ms: median(runs.map((run) => run.result.p99Ms)),
  };
}

/** Within 10 % of the runs without endpoints (medians): throughput, p50 and p99. */
export function webhookLoadChecks(load: WebhookLoad): [boolean, string][] {
  const without = medians(load.runs.filter((run) => run.endpoints !== "2 live, 1 dead"));
  const withEndpoints = medians(load.runs.filter((run) => run.endpoints === "2 live, 1 dead"));
  const change = (value: number, base: number) =>
    `${value >= base ? "+" : ""}${((value / base - 1) * 100).toFixed(1)}%`;
  const lives = load.rounds.flatMap((round) => round.live);
  return [
    [
      withEndpoints.rps >= 0.9 * without.rps,
      `webhooks under load: verify throughput during the bursts to 3 endpoints within 10% of ` +
      `the runs without (medians: ${withEndpoints.rps.toFixed(0)} against ${
        without.rps.toFixed(0)
      } req/s, ${change(withEndpoints.rps, without.rps)})`,
    ],
    [
      withEndpoints.p50Ms <= 1.1 * without.p50Ms && withEndpoints.p99Ms <= 1.1 * without.p99Ms,
      `webhooks under load: verify p50 and p99 during the bursts within 10% of the runs without ` +
      `(medians: p50 ${withEndpoints.p50Ms.toFixed(2)} against ${without.p50Ms.toFixed(2)} ms, ${
        change(withEndpoints.p50Ms, without.p50Ms)
      }; p99 ${withEndpoints.p99Ms.toFixed(2)} against ${without.p99Ms.toFixed(2)} ms, ${
        change(withEndpoints.p99Ms, without.p99Ms)
      })`,
    ],
    [
      lives.every((live) => live.received === load.events && live.unverified === 0) &&
      load.dead.liveDropped === 0,
      `webhooks under load: each live endpoint got all ${load.events} events of every burst, ` +
      `every message verified, none dropped (measured ${
        lives.map((live) => live.received).join(", ")
      } received, ${
        lives.reduce((sum, live) => sum + live.unverified, 0)
      } unverified, ${load.dead.liveDropped} dropped)`,
    ],
    [
      load.rounds.every((round) => round.deadBacklogAfterDrain <= load.limit) &&
      load.dead.dropped > 0 && load.dead.dropEvents > 0 &&
      load.dead.dropEvents <= load.dead.minutes + 1,
      `webhooks under load: the dead endpoint's backlog held at the limit (${load.limit}) with ` +
      `the drop audited at most once a minute (measured ${
        load.rounds.map((round) => round.deadBacklogAfterDrain).join(", ")
      } after each drain, ${load.dead.dropped} dropped, ${load.dead.dropEvents} ` +
      `webhook.backlog_dropped events in ${load.dead.minutes} minutes)`,
    ],
  ];
}

export function describeWebhookLoad(load: WebhookLoad, settings: string): string {
  const seconds = (ms: number) => (ms / 1000).toFixed(1);
  let round = 0;
  const rows = load.runs.map((run, i) => {
    const drained = run.endpoints === "2 live, 1 dead" ? load.rounds[round++] : undefined;
    const cpu = [run.cpu.gateway, run.cpu.postgres, run.cpu.bench + run.cpu.wrk]
      .map((value) => (value / (run.burstMs / 1000)).toFixed(2)).join(" / ");
    return `| ${i + 1} | ${run.endpoints} | ${run.result.rps.toFixed(0)} | ${
      run.result.p50Ms.toFixed(2)
    } | ${run.result.p99Ms.toFixed(2)} | ${run.result.errors + run.result.non2xx} | ${
      seconds(run.burstMs)
    } | ${cpu} | ${
      drained ? drained.live.map((live) => seconds(live.drainAfterBurstMs)).join(", ") : ""
    } | ${
      drained
        ? drained.live.map((live) => `${seconds(live.latencyP50Ms)}/${seconds(live.latencyP99Ms)}`)
          .join(", ")
        : ""
    } | ${
      drained
        ? `${drained.deadPeakBacklog}, ${drained.deadBacklogAtEnd}, ${drained.deadBacklogAfterDrain}`
        : ""
    } |`;
  });
  const without = medians(load.runs.filter((run) => run.endpoints !== "2 live, 1 dead"));
  const withEndpoints = medians(load.runs.filter((run) => run.endpoints === "2 live, 1 dead"));
  const lives = load.rounds.flatMap((round) => round.live);
  const unverified = lives.reduce((sum, live) => sum + live.unverified, 0);
  return `A server of its own with ${settings}. \`POST /keys/verify\` at ${load.connections}
connections over ${load.keys} keys for as long as ${load.events} audit events take to be written,
one per transaction (\`latchkey.append_audit_event\`, the queueing trigger in each) from
${burstConnections} connections of the benchmark, paced to take ${load.seconds - 1} s (the
database's commits may take longer: "burst s"); the three endpoints subscribe to \`*\` (two live
receivers in the benchmark's process, one dead: a port that accepts connections and never
answers). Runs alternate: without endpoints (first before any was registered, then with the three
disabled) and with them enabled; after each run with them, a request every 100 ms (sweeps and
trims run after answers) until both live receivers have every event of that burst; then every
message is verified with \`standardwebhooks\`. CPU is cores used by the server, PostgreSQL and the benchmark's own
process with wrk, over the run. "Drained" is from the burst's last event to the last of them
received; latency from an event's timestamp to its arrival; the dead endpoint's backlog at its
peak (counted every 5 s), at the run's end and once the live ones had drained.

| run | endpoints | verify req/s | p50 ms | p99 ms | errors | burst s | CPU: server / PostgreSQL / bench | live drained after, s | live latency p50/p99, s | dead backlog: peak, end, drained |
| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- |
${rows.join("\n")}

Medians without endpoints: ${without.rps.toFixed(0)} req/s, p50 ${without.p50Ms.toFixed(2)} ms,
p99 ${without.p99Ms.toFixed(2)} ms; with them: ${withEndpoints.rps.toFixed(0)} req/s, p50
${withEndpoints.p50Ms.toFixed(2)} ms, p99 ${withEndpoints.p99Ms.toFixed(2)} ms. The live receivers
got ${
    lives.map((live) => live.received).join(", ")
  } of each burst's ${load.events} events (${unverified} failed verification${
    unverified ? `, the first: ${lives.find((live) => live.firstError)?.firstError}` : ""
  }; ${lives.reduce((sum, live) => sum + live.duplicates, 0)} duplicates); their backlogs peaked
at ${
    Math.max(...lives.map((live) => live.peakBacklog))
  } and ${load.dead.liveDropped} of their messages were dropped. The dead endpoint:
${load.dead.dropped} messages dropped over the runs, audited in ${load.dead.dropEvents}
\`webhook.backlog_dropped\` events over ${load.dead.minutes} minutes, which report
${load.dead.dropsReported} drops (those after the last event wait for the next one); it was sent
${load.dead.connectionsAccepted} connections in all (at most 4 at a time, each given up after 5 s,
then cooled down).`;
}
