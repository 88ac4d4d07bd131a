import { describeError, log } from "../config/log.ts";
import { withStatementTimeout } from "../db/database.ts";
import type { Runtime } from "../db/runtime.ts";
import { continueAfterResponse } from "../ground/edge_runtime.ts";
import { latchkeyVersion } from "../ground/version.ts";
import { checkedAddresses, webhookDestination } from "./destinations.ts";
import { postToAddress } from "./outbound_http.ts";
import { standardWebhookSignature, webhookSigningKey } from "./standard_webhooks.ts";
import { openWebhookSecret } from "./webhook_secrets.ts";
import { servingTrimEveryMs, trimEveryMs, trimWebhookBacklogs } from "./webhook_backlog.ts";

/**
 * Webhook messages leave from `latchkey.webhook_deliveries`. While an endpoint is enabled, a
 * trigger on the audit log queues each event in its own transaction (one row in
 * `latchkey.webhook_queue`), and every claim first fans the queue out, in batches, into a message
 * for each enabled endpoint that wants the event (migration 20261222000100 says why). Each isolate
 * sends what is due after its answers, never on a request's path: an isolate that knows of an
 * enabled endpoint (it asks at most every 10 s) sweeps after each answer, at most every 20 ms (250
 * ms while it serves traffic), and once more after a sweep if answers came meanwhile. A sweep
 * claims due messages, at most `sweepPerEndpoint` of each endpoint (leased, so no other isolate
 * sends them at the same time), and hands each endpoint's to a lane of their own: at most
 * `laneWorkers` attempts at once, each bounded by LATCHKEY_WEBHOOK_TIMEOUT_MS, so a slow or dead
 * endpoint holds only its lane, and the next sweep passes it by while it is busy (the lane sweeps
 * again when it ends, for what was queued meanwhile). A lane whose endpoint answers claims its next
 * `laneRefill` messages itself, so a live endpoint's backlog drains without waiting for requests; a
 * lane that delivered nothing after a full claim cools its endpoint down (sweeps pass it by for 10
 * s, doubling up to a minute, until a delivery succeeds), so a dead endpoint with a backlog costs a
 * few attempts a minute instead of one per message. Requests come first: while the isolate answers
 * 100 or more a second, its lanes together start at most
 * LATCHKEY_WEBHOOK_BUSY_DELIVERIES_PER_SECOND attempts a second (measured in one run each: a burst
 * delivered at 200 a second cost key checks at 64 connections about 30% of their throughput, at 1 a
 * second nothing measurable), and drain at full speed when it is quieter. Retries back off per
 * message from each failure (10 s · 2^n, at most 2 h); after LATCHKEY_WEBHOOK_MAX_ATTEMPTS a
 * message is marked failed. Retries of an idle service wait for its next request, as mail does. At
 * most every second (every 5 s while it serves traffic) an isolate also trims the backlogs over
 * LATCHKEY_WEBHOOK_BACKLOG_LIMIT (webhook_backlog.ts).
 */
const sweepPerEndpoint = 4;
const laneWorkers = 4;
const laneRefill = 16;
const batch = 50;
const sweepGapMs = 20;
const servingSweepGapMs = 250;
const activeCheckEveryMs = 10_000;
const coolingMs = { first: 10_000, most: 60_000 };
/** Answers in 100 ms from which the isolate counts as serving traffic. */
const servingAnswersPerTenth = 10;

interface ClaimedDelivery {
  id: string;
  endpoint_id: string;
  url: string;
  secret_ciphertext: Uint8Array;
  previous_secret_ciphertext: Uint8Array | null;
  /** The message's body, as PostgreSQL writes the jsonb (signed and sent as it is). */
  payload: string;
  attempts: number;
}

interface IsolateState {
  /** Whether an enabled endpoint exists, as last asked; undefined before the first answer. */
  active?: boolean;
  activeCheckedAt: number;
  checking: boolean;
  sweeping: boolean;
  again: boolean;
  lastSweep: number;
  timer: boolean;
  lastTrim: number;
  /** Endpoints this isolate is sending to now: the next claim passes them by. */
  busy: Set<string>;
  /**
   * Busy endpoints a claim passed by: messages queued for them meanwhile are due, so their
   * lane sweeps again when it ends (else those would wait for the next request).
   */
  passedBy: Set<string>;
  /** Endpoints whose last full lane delivered nothing: passed by until `until`. */
  cooling: Map<string, { until: number; ms: number }>;
  /** Answers in the current tenth of a second (from `tenthStart`) and in the one before. */
  tenthStart: number;
  answers: number;
  answersBefore: number;
  /** Attempts that may start now while the isolate is serving traffic, refilled over time. */
  tokens: number;
  tokensAt: number;
}

const states = new WeakMap<Runtime, IsolateState>();

function stateOf(runtime: Runtime): IsolateState {
  let state = states.get(runtime);
  if (!state) {
    state = {
      activeCheckedAt: -Infinity,
      checking: false,
      sweeping: false,
      again: false,
      lastSweep: -Infinity,
      timer: false,
      lastTrim: -Infinity,
      busy: new Set(),
      passedBy: new Set(),
      cooling: new Map(),
      tenthStart: -Infinity,
      answers: 0,
      answersBefore: 0,
      tokens: 0,
      tokensAt: 0,
    };
    states.set(runtime, state);
  }
  return state;
}

/**
 * The lease of a claimed message: longer than it may wait in its lane (a refill's messages go
 * `laneWorkers` at a time) plus its own attempt.
 */
function leaseSeconds(runtime: Runtime): number {
  const attemptSeconds = Math.ceil(runtime.config.LATCHKEY_WEBHOOK_TIMEOUT_MS / 1000);
  return Math.max(30, attemptSeconds * (Math.ceil(laneRefill / laneWorkers) + 2));
}

/** After every answer (api/routes.ts): a sweep if this isolate knows of an enabled endpoint. */
export function deliverWebhooksInBackground(runtime: Runtime): void {
  if (!runtime.config.LATCHKEY_MFA_ENCRYPTION_KEY) return;
  const state = stateOf(runtime);
  noteAnswer(state);
  if (!state.checking && Date.now() - state.activeCheckedAt >= activeCheckEveryMs) {
    state.checking = true;
    const check = withStatementTimeout(
      runtime.sql,
      runtime.sql<{ active: boolean }[]>`
        select exists (select from latchkey.webhook_endpoints where enabled) as active`,
    ).then(([{ active }]) => {
      state.active = active;
      state.activeCheckedAt = Date.now();
      if (active) sweepSoon(runtime);
    }).catch((error) => log("warn", "webhook_check_failed", { error: describeError(error) }))
      .finally(() => state.checking = false);
    continueAfterResponse(check);
    return;
  }
  if (!state.active) return;
  sweepSoon(runtime);
  if (Date.now() - state.lastTrim >= (serving(state) ? servingTrimEveryMs : trimEveryMs)) {
    state.lastTrim = Date.now();
    continueAfterResponse(
      trimWebhookBacklogs(runtime).catch((error) =>
        log("warn", "webhook_trim_failed", { error: describeError(error) })
      ),
    );
  }
}

function noteAnswer(state: IsolateState): void {
  const now = Date.now();
  if (now - state.tenthStart >= 100) {
    state.answersBefore = now - state.tenthStart < 200 ? state.answers : 0;
    state.tenthStart = now;
    state.answers = 0;
  }
  state.answers++;
}

function serving(state: IsolateState): boolean {
  if (Date.now() - state.tenthStart >= 200) return false;
  return Math.max(state.answers, state.answersBefore) >= servingAnswersPerTenth;
}

/** Waits, while the isolate is serving traffic, for its turn to start an attempt. */
async function turnToAttempt(runtime: Runtime, state: IsolateState): Promise<void> {
  const perSecond = runtime.config.LATCHKEY_WEBHOOK_BUSY_DELIVERIES_PER_SECOND;
  while (serving(state)) {
    const now = Date.now();
    state.tokens = Math.min(
      laneWorkers,
      state.tokens + ((now - state.tokensAt) * perSecond) / 1000,
    );
    state.tokensAt = now;
    if (state.tokens >= 1) {
      state.tokens -= 1;
      return;
    }
    await new Promise((resolve) =>
      setTimeout(resolve, Math.ceil((1 - state.tokens) * 1000 / perSecond))
    );
  }
}

/** An endpoint was registered or changed here: this isolate sends at once, without asking. */
export function webhooksChanged(runtime: Runtime): void {
  const state = stateOf(runtime);
  state.active = true;
  state.activeCheckedAt = Date.now();
  state.cooling.clear();
}

/**
 * Sends what is due now: someone asked (a re-delivery, a test message), so endpoints cooling
 * down are tried again too.
 */
export function requestSweep(runtime: Runtime): void {
  stateOf(runtime).cooling.clear();
  sweepSoon(runtime);
}

/** Sends what is due now (an answer just wrote an event, a lane ended). */
function sweepSoon(runtime: Runtime): void {
  if (!runtime.config.LATCHKEY_MFA_ENCRYPTION_KEY) return;
  const state = stateOf(runtime);
  if (state.sweeping) {
    state.again = true;
    return;
  }
  // While the isolate serves traffic its lanes wait their turns anyway: fewer, fuller claims.
  const gap = serving(state) ? servingSweepGapMs : sweepGapMs;
  const wait = state.lastSweep + gap - Date.now();
  if (wait > 0) {
    if (!state.timer) {
      state.timer = true;
      continueAfterResponse(
        new Promise<void>((resolve) =>
          setTimeout(() => {
            state.timer = false;
            sweepSoon(runtime);
            resolve();
          }, wait)
        ),
      );
    }
    return;
  }
  state.sweeping = true;
  state.lastSweep = Date.now();
  const run = sweepWebhooks(runtime)
    .catch((error) => log("warn", "webhook_sweep_failed", { error: describeError(error) }))
    .finally(() => {
      state.sweeping = false;
      if (state.again) {
        state.again = false;
        sweepSoon(runtime);
      }
    });
  continueAfterResponse(run);
}

function claim(
  runtime: Runtime,
  passBy: string[],
  perEndpoint: number,
  limit: number,
  only: string | null = null,
) {
  const { sql } = runtime;
  return withStatementTimeout(
    sql,
    sql<ClaimedDelivery[]>`
      select id, endpoint_id, url, secret_ciphertext, previous_secret_ciphertext,
        payload::text as payload, attempts
      from latchkey.claim_webhook_deliveries(${passBy}::uuid[], ${perEndpoint},
        ${limit}, make_interval(secs => ${leaseSeconds(runtime)}), ${only}::uuid)`,
  );
}

/**
 * Claims what is due, in batches, and starts each endpoint's lane; resolves once every lane has
 * started (not finished: a lane is awaited by the edge runtime through continueAfterResponse,
 * and by `deliverDueWebhooks`).
 */
export async function sweepWebhooks(
  runtime: Runtime,
  { followUp = true } = {},
): Promise<Promise<void>[]> {
  const state = stateOf(runtime);
  const lanes: Promise<void>[] = [];
  while (true) {
    for (const endpointId of state.busy) state.passedBy.add(endpointId);
    const now = Date.now();
    for (const [endpointId, { until }] of state.cooling) {
      if (until <= now) state.cooling.delete(endpointId);
    }
    const claimed = await claim(
      runtime,
      [...state.busy, ...state.cooling.keys()],
      sweepPerEndpoint,
      batch,
    );
    const byEndpoint = Map.groupBy(claimed, (delivery) => delivery.endpoint_id);
    for (const [endpointId, deliveries] of byEndpoint) {
      state.busy.add(endpointId);
      const lane = runLane(runtime, endpointId, deliveries)
        .then((outcome) => {
          if (outcome.cool) coolDown(state, endpointId);
          else if (outcome.delivered > 0) state.cooling.delete(endpointId);
          return outcome.more;
        }, (error) => {
          log("warn", "webhook_lane_failed", { endpointId, error: describeError(error) });
          return false;
        })
        .then((more) => {
          state.busy.delete(endpointId);
          const passedBy = state.passedBy.delete(endpointId);
          // A lane that stopped at a full claim may have left more of that endpoint's messages
          // due, and a claim that passed it by may have left ones queued meanwhile.
          if (followUp && (more || passedBy)) sweepSoon(runtime);
        });
      continueAfterResponse(lane);
      lanes.push(lane);
    }
    if (claimed.length < batch) return lanes;
  }
}

function coolDown(state: IsolateState, endpointId: string): void {
  const ms = Math.min(
    coolingMs.most,
    (state.cooling.get(endpointId)?.ms ?? coolingMs.first / 2) * 2,
  );
  state.cooling.set(endpointId, { until: Date.now() + ms, ms });
}

interface LaneOutcome {
  delivered: number;
  /** Its last claim was full: more of the endpoint's messages may be due. */
  more: boolean;
  /** A full claim and not one delivery: the endpoint looks dead. */
  cool: boolean;
}

/**
 * One endpoint's lane: `laneWorkers` attempts at a time over the claimed messages, recorded in
 * batches (one statement for up to `laneRefill` outcomes); while the endpoint answers and claims
 * come back full, it claims the endpoint's next ones itself. An outcome not yet recorded when
 * the isolate dies is sent again once its lease ends: at least once, as always.
 */
async function runLane(
  runtime: Runtime,
  endpointId: string,
  claimed: ClaimedDelivery[],
): Promise<LaneOutcome> {
  const state = stateOf(runtime);
  const queue = [...claimed];
  const outcomes: RecordedOutcome[] = [];
  const secrets: SecretCache = new Map();
  let full = claimed.length === sweepPerEndpoint;
  let delivered = 0;
  let failedInARow = 0;
  let refill: Promise<void> | null = null;
  const flush = () => recordOutcomes(runtime, endpointId, outcomes.splice(0));
  const worker = async () => {
    while (true) {
      const next = queue.shift();
      if (next) {
        await turnToAttempt(runtime, state);
        const outcome = await deliverOne(runtime, next, secrets);
        outcomes.push(outcome);
        if (outcome.delivered) {
          delivered++;
          failedInARow = 0;
        } else {
          failedInARow++;
        }
        if (outcomes.length >= laneRefill) await flush();
        continue;
      }
      // Not while the isolate is serving traffic: claimed messages would wait their turn
      // past their lease.
      if (!full || failedInARow >= laneWorkers || delivered === 0 || serving(state)) return;
      refill ??= Promise.all([
        flush(),
        claim(runtime, [], laneRefill, laneRefill, endpointId).then((more) => {
          queue.push(...more);
          full = more.length === laneRefill;
        }, (error) => {
          log("warn", "webhook_lane_claim_failed", { endpointId, error: describeError(error) });
          full = false;
        }),
      ]).then(() => {}).finally(() => refill = null);
      await refill;
      if (queue.length === 0) return;
    }
  };
  await Promise.all(Array.from({ length: laneWorkers }, worker));
  await flush();
  return { delivered, more: full, cool: full && delivered === 0 };
}

interface RecordedOutcome {
  id: string;
  delivered: boolean;
  status: number | null;
  excerpt: string | null;
  latency_ms: number;
}

/** Outcomes in one statement; a failure is logged (their leases end, and they go again). */
async function recordOutcomes(
  runtime: Runtime,
  endpointId: string,
  outcomes: RecordedOutcome[],
): Promise<void> {
  if (outcomes.length === 0) return;
  const { sql, config } = runtime;
  try {
    await withStatementTimeout(
      sql,
      sql`
        select latchkey.record_webhook_attempt(o.id, o.delivered, o.status, o.excerpt,
          o.latency_ms, ${config.LATCHKEY_WEBHOOK_MAX_ATTEMPTS})
        from jsonb_to_recordset(${sql.json(outcomes as never)}) as o(id uuid, delivered boolean,
          status integer, excerpt text, latency_ms integer)`,
    );
  } catch (error) {
    log("warn", "webhook_record_failed", { endpointId, error: describeError(error) });
  }
}

/** Sends what is due and waits for the outcome (tasks and tests); no follow-up sweep. */
export async function deliverDueWebhooks(runtime: Runtime): Promise<void> {
  await Promise.all(await sweepWebhooks(runtime, { followUp: false }));
}

interface Outcome {
  delivered: boolean;
  status: number | null;
  excerpt: string | null;
}

/** An endpoint's signing keys by their sealed secrets (hex), for one lane. */
type SecretCache = Map<string, Promise<CryptoKey>>;

function signingKey(
  key: string,
  delivery: ClaimedDelivery,
  sealed: Uint8Array,
  cache: SecretCache,
): Promise<CryptoKey> {
  const name = Array.from(sealed, (byte) => byte.toString(16).padStart(2, "0")).join("");
  let opened = cache.get(name);
  if (!opened) {
    opened = openWebhookSecret(key, delivery.endpoint_id, sealed).then(webhookSigningKey);
    cache.set(name, opened);
  }
  return opened;
}

async function attempt(
  runtime: Runtime,
  delivery: ClaimedDelivery,
  cache: SecretCache,
): Promise<Outcome> {
  const { config } = runtime;
  const started = Date.now();
  const key = config.LATCHKEY_MFA_ENCRYPTION_KEY!;
  let secrets: CryptoKey[];
  try {
    secrets = await Promise.all(
      [delivery.secret_ciphertext, delivery.previous_secret_ciphertext]
        .filter((sealed): sealed is Uint8Array => sealed !== null)
        .map((sealed) => signingKey(key, delivery, sealed, cache)),
    );
  } catch {
    return {
      delivered: false,
      status: null,
      excerpt: "The signing secret cannot be decrypted: was LATCHKEY_MFA_ENCRYPTION_KEY " +
        "changed? Rotate the endpoint's secret.",
    };
  }
  const checked = webhookDestination(config, delivery.url);
  if ("problem" in checked) return { delivered: false, status: null, excerpt: checked.problem };
  const { destination } = checked;
  // The same check as at registration, on a fresh lookup: what is connected to is what passed.
  const resolved = await checkedAddresses(
    runtime,
    destination,
    Math.min(2000, config.LATCHKEY_WEBHOOK_TIMEOUT_MS),
  );
  if ("problem" in resolved) return { delivered: false, status: null, excerpt: resolved.problem };
  const body = delivery.payload;
  const timestamp = Math.floor(Date.now() / 1000);
  const answer = await postToAddress({
    address: resolved.addresses[0],
    port: destination.port,
    host: destination.host,
    hostHeader: destination.url.host,
    tls: destination.tls,
    target: destination.url.pathname + destination.url.search,
    headers: {
      "Content-Type": "application/json",
      "User-Agent": `Latchkey-Webhooks/${latchkeyVersion}`,
      "webhook-id": delivery.id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": await standardWebhookSignature(
        secrets,
        delivery.id,
        timestamp,
        body,
      ),
    },
    body: new TextEncoder().encode(body),
    timeoutMs: Math.max(100, config.LATCHKEY_WEBHOOK_TIMEOUT_MS - (Date.now() - started)),
    caCerts: runtime.network?.caCerts,
  });
  return {
    delivered: answer.status >= 200 && answer.status < 300,
    status: answer.status,
    excerpt: answer.excerpt,
  };
}

/** One attempt; answers its outcome, to be recorded. */
async function deliverOne(
  runtime: Runtime,
  delivery: ClaimedDelivery,
  secrets: SecretCache,
): Promise<RecordedOutcome> {
  const started = performance.now();
  let outcome: Outcome;
  try {
    outcome = await attempt(runtime, delivery, secrets);
  } catch (error) {
    outcome = {
      delivered: false,
      status: null,
      excerpt: error instanceof Error ? error.message : String(error),
    };
  }
  const maxAttempts = runtime.config.LATCHKEY_WEBHOOK_MAX_ATTEMPTS;
  if (!outcome.delivered) {
    // Info until given up: a dead endpoint must not fill hosted's small log budget.
    log(delivery.attempts >= maxAttempts ? "warn" : "info", "webhook_delivery_failed", {
      deliveryId: delivery.id,
      endpointId: delivery.endpoint_id,
      attempt: delivery.attempts,
      givenUp: delivery.attempts >= maxAttempts,
      status: outcome.status,
    });
  }
  return {
    id: delivery.id,
    delivered: outcome.delivered,
    status: outcome.status,
    // PostgreSQL text holds no NUL, and a receiver's answer may.
    excerpt: outcome.excerpt?.replaceAll("\0", "") ?? null,
    latency_ms: Math.round(performance.now() - started),
  };
}
