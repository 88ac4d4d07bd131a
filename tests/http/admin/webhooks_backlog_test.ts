import assert from "node:assert/strict";
import { loadConfig } from "../../../functions/_shared/config/config.ts";
import { createDatabase } from "../../../functions/_shared/db/database.ts";
import { trimWebhookBacklogs } from "../../../functions/_shared/webhooks/webhook_backlog.ts";
import { withDatabase } from "../../support/http.ts";
import { serveFunctions } from "../../support/in_process.ts";
import { freePort } from "../../support/server.ts";
import {
  admin,
  deliveriesOf,
  type Receiver,
  startReceiver,
  testMfaKey,
  untilDeliveries,
  verifyMessage,
  withWebhookFunctions,
} from "../../support/webhooks.ts";

/**
 * The outbox stays bounded: an endpoint's undelivered backlog over
 * LATCHKEY_WEBHOOK_BACKLOG_LIMIT loses its oldest messages (dropped in the delivery log,
 * re-deliverable), the drop is audited once a minute, and the endpoint's later events still go;
 * finished deliveries past LATCHKEY_WEBHOOK_DELIVERY_RETENTION_DAYS are deleted after a request.
 * A real receiver verifies what it gets with the `standardwebhooks` library.
 */

const limit = 5;

/** Events the endpoint wants, each its own transaction (so each its own age), no request. */
async function writeEvents(from: number, count: number) {
  await withDatabase(async (sql) => {
    for (let n = from; n < from + count; n++) {
      await sql`select latchkey.append_audit_event('system', null, null, 'admin.user_created',
        null, null, '{}', jsonb_build_object('backlog', ${n}::int))`;
    }
  });
}

const minuteNow = () =>
  withDatabase((sql) =>
    sql<{ minute: string }[]>`select date_trunc('minute', now())::text as minute`
  ).then(([{ minute }]) => minute);

/** The endpoint's messages neither delivered nor given up (its backlog). */
async function pendingCount(endpointId: string) {
  return (await deliveriesOf(endpointId)).filter((row) =>
    row.delivered_at === null && row.failed_at === null
  ).length;
}

/** The backlog numbers of the endpoint's messages in `status`, oldest first. */
async function numbered(endpointId: string, status: "dropped" | "pending") {
  const rows = await withDatabase((sql) =>
    sql<{ n: number }[]>`
      select (a.metadata ->> 'backlog')::int as n
      from latchkey.webhook_deliveries d join latchkey.audit_events a on a.id = d.event_id
      where d.endpoint_id = ${endpointId} and a.metadata ? 'backlog'
        and case when ${status} = 'dropped' then d.dropped_at is not null
          else d.delivered_at is null and d.failed_at is null end
      order by d.created_at, d.id`
  );
  return rows.map((row) => row.n);
}

Deno.test("over the backlog limit the oldest messages are dropped, audited once a minute; later events still go", () => {
  const receiver: Receiver = startReceiver();
  return withWebhookFunctions(async (functions, resolver) => {
    resolver.answers.set("receiver.hooks.test", ["127.0.0.1"]);
    const created = await functions.call("POST", "/admin/webhooks", admin, {
      url: `http://receiver.hooks.test:${receiver.port}/in`,
      // It hears its own drops too: each event joins the backlog it was dropped from.
      events: ["admin.user_created", "webhook.backlog_dropped"],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const endpoint = created.body as { id: string; secret: string };
    await functions.settled();

    // Eight messages wait (no request came to send them); the trim the deliverer runs after
    // answers, run here directly so no send races it.
    const config = loadConfig({
      LATCHKEY_DB_URL: Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!,
      LATCHKEY_LOG_LEVEL: "silent",
      LATCHKEY_MFA_ENCRYPTION_KEY: testMfaKey,
      LATCHKEY_WEBHOOK_BACKLOG_LIMIT: String(limit),
    });
    const isolate = { config, sql: createDatabase(config) };
    const minutes = new Set<string>();
    try {
      await writeEvents(0, 8);
      minutes.add(await minuteNow());
      const first = await trimWebhookBacklogs(isolate);
      minutes.add(await minuteNow());
      assert.equal(first, 4, "8 over a limit of 5, and a place for the drop's own event");
      assert.deepEqual(await numbered(endpoint.id, "dropped"), [0, 1, 2, 3], "the oldest");
      assert.deepEqual(await numbered(endpoint.id, "pending"), [4, 5, 6, 7]);
      assert.equal(
        await pendingCount(endpoint.id),
        limit,
        "at the limit with the drop's own message (fanned out by the trim, not left queued)",
      );

      // Two more within the minute: dropped, counted, not audited again.
      await writeEvents(8, 2);
      const second = await trimWebhookBacklogs(isolate);
      minutes.add(await minuteNow());
      const dropped = await numbered(endpoint.id, "dropped");
      assert.equal(dropped.length, 4 + second);
      assert.deepEqual(dropped, [...Array(dropped.length).keys()], "always the oldest");
      assert.equal(await pendingCount(endpoint.id), limit, "held at the limit");
      // What is left to send once requests come (each answer's sweep sends what is due).
      const kept = await numbered(endpoint.id, "pending");
      const audited = await functions.call(
        "GET",
        `/admin/audit?action=webhook.backlog_dropped&targetId=${endpoint.id}`,
        admin,
      );
      assert.equal(audited.status, 200);
      assert.equal(audited.body.events.length, minutes.size, "once for each minute it dropped in");
      const oldest = audited.body.events.at(-1);
      assert.equal(oldest.actorKind, "system");
      assert.deepEqual(oldest.metadata, { dropped: 4, limit, droppedSincePreviousEvent: 0 });

      // The log says which were dropped; one is sent again on request.
      const log = await functions.call(
        "GET",
        `/admin/webhooks/${endpoint.id}/deliveries?limit=100`,
        admin,
      );
      const droppedRows = log.body.deliveries.filter((row: { status: string }) =>
        row.status === "dropped"
      );
      assert.equal(droppedRows.length, dropped.length);
      for (const row of droppedRows) {
        assert.ok(row.droppedAt && row.failedAt === null && row.nextAttemptAt === null);
      }
      const retried = droppedRows[0];
      const [{ n: retriedNumber }] = await withDatabase((sql) =>
        sql<{ n: number }[]>`
          select (a.metadata ->> 'backlog')::int as n
          from latchkey.webhook_deliveries d join latchkey.audit_events a on a.id = d.event_id
          where d.id = ${retried.id}`
      );
      assert.equal(
        (await functions.call("POST", `/admin/webhooks/deliveries/${retried.id}/retry`, admin))
          .status,
        202,
      );

      // Later events still go, and so do the kept and the retried: each verified; no other
      // dropped message is ever sent.
      const later = await functions.call("POST", "/admin/users", admin, {
        email: `backlog-later-${crypto.randomUUID()}@example.test`,
        name: "Later",
        serviceAccount: true,
      });
      assert.equal(later.status, 201, JSON.stringify(later.body));
      await receiver.waitFor((m) => m.body.includes(later.body.user.id));
      await untilDeliveries(
        endpoint.id,
        (rows) => rows.every((row) => row.delivered_at !== null || row.failed_at !== null),
      );
      const sent = receiver.messages.map((m) => verifyMessage(endpoint.secret, m)) as {
        type: string;
        data: { metadata: { backlog?: number } };
      }[];
      const sentNumbers = sent.flatMap((m) => m.data.metadata.backlog ?? []);
      assert.deepEqual(
        sentNumbers.toSorted((a, b) => a - b),
        [...kept, retriedNumber].toSorted((a, b) => a - b),
        "the kept and the retried, each once; never another dropped one",
      );
      assert.equal(
        sent.filter((m) => m.type === "webhook.backlog_dropped").length,
        minutes.size,
        "the receiver hears of its own drops",
      );
    } finally {
      await isolate.sql.end();
    }
  }, { LATCHKEY_WEBHOOK_BACKLOG_LIMIT: String(limit) }).finally(() => receiver.close());
});

Deno.test("a dead endpoint with a backlog is tried a lane at a time, then passed by until asked", () =>
  withWebhookFunctions(async (functions, resolver) => {
    resolver.answers.set("dead.hooks.test", ["127.0.0.1"]);
    // Nothing listens there: every attempt is refused at once.
    const created = await functions.call("POST", "/admin/webhooks", admin, {
      url: `http://dead.hooks.test:${freePort()}/in`,
      events: ["admin.user_created"],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const endpointId = created.body.id as string;
    await functions.settled();
    await writeEvents(100, 8);
    const attempted = async () =>
      (await deliveriesOf(endpointId)).filter((row) => row.attempts > 0).length;

    await functions.call("GET", "/admin/webhooks", admin);
    await functions.settled();
    assert.equal(await attempted(), 4, "one lane's worth");
    // Its lane delivered nothing: the next answers' sweeps pass it by, the rest untried.
    for (let i = 0; i < 5; i++) await functions.call("GET", "/admin/webhooks", admin);
    await functions.settled();
    assert.equal(await attempted(), 4, "cooling down, not one attempt per message");
    // Someone asks (a test message, a re-delivery): it is tried again at once.
    const tested = await functions.call("POST", `/admin/webhooks/${endpointId}/test`, admin);
    assert.equal(tested.status, 202);
    await functions.settled();
    assert.equal(await attempted(), 8);
  }));

Deno.test("an isolate deletes finished deliveries past retention after a request; pending and newer stay", async () => {
  // Older than this test's retention (7 days), newer than the default the suite's gateway keeps
  // (30): only this isolate deletes them. 1,203 finished: more than one batch.
  const endpointId = crypto.randomUUID();
  const planted = await withDatabase(async (sql) => {
    await sql`insert into latchkey.webhook_endpoints (id, url, events, secret_ciphertext, enabled)
      values (${endpointId}, 'https://retention.hooks.test/', '{retention.fixture}',
        ${new Uint8Array([0])}, false)`;
    await sql`
      insert into latchkey.webhook_deliveries (endpoint_id, event_id, event_type, payload,
        created_at, delivered_at, failed_at, dropped_at)
      select ${endpointId}, gen_random_uuid(), 'retention.fixture',
        jsonb_build_object('kind', kind), now() - age,
        case when kind in ('delivered', 'recent') then now() end,
        case when kind in ('failed', 'dropped') then now() end,
        case when kind = 'dropped' then now() end
      from (values ('delivered', interval '10 days', 1201), ('failed', interval '10 days', 1),
        ('dropped', interval '10 days', 1), ('pending', interval '10 days', 1),
        ('recent', interval '2 days', 1)) as fixture(kind, age, rows),
        generate_series(1, rows)`;
    return sql<{ kind: string; count: number }[]>`
      select payload ->> 'kind' as kind, count(*)::int as count from latchkey.webhook_deliveries
      where endpoint_id = ${endpointId} group by 1 order by 1`;
  });
  assert.equal(planted.reduce((sum, row) => sum + row.count, 0), 1205);
  const served = serveFunctions({ LATCHKEY_WEBHOOK_DELIVERY_RETENTION_DAYS: "7" });
  try {
    assert.equal((await served.call("GET", "/auth/.well-known/jwks.json")).status, 200);
    await served.settled();
    const left = await withDatabase((sql) =>
      sql<{ kind: string }[]>`
        select payload ->> 'kind' as kind from latchkey.webhook_deliveries
        where endpoint_id = ${endpointId} order by 1`
    );
    assert.deepEqual(left.map((row) => row.kind), ["pending", "recent"]);
  } finally {
    await served.close();
    await withDatabase((sql) =>
      sql`delete from latchkey.webhook_endpoints where id = ${endpointId}`
    );
  }
});
