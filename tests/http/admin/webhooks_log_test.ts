import assert from "node:assert/strict";
import { uniqueEmail, withDatabase } from "../../support/http.ts";
import type { InProcessFunctions } from "../../support/in_process.ts";
import {
  admin,
  deliveriesOf,
  type Receiver,
  startReceiver,
  untilDeliveries,
  verifyMessage,
  withWebhookFunctions,
} from "../../support/webhooks.ts";

/**
 * An endpoint's delivery log (GET /admin/webhooks/:id/deliveries), test messages
 * (POST /admin/webhooks/:id/test) and Idempotency-Key on the POSTs that a retried request could
 * repeat (registration, test, retry, rotation), against a real receiver on 127.0.0.1 that
 * verifies what it gets with the `standardwebhooks` library.
 */

async function register(functions: InProcessFunctions, receiver: Receiver, events: string[]) {
  const created = await functions.call("POST", "/admin/webhooks", admin, {
    url: `http://receiver.hooks.test:${receiver.port}/in`,
    events,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body as { id: string; secret: string };
}

interface Delivery {
  id: string;
  eventId: string;
  type: string;
  status: string;
  attempts: number;
  lastStatus: number | null;
  lastResponse: string | null;
  lastLatencyMs: number | null;
  lastAttemptAt: string | null;
  nextAttemptAt: string | null;
  deliveredAt: string | null;
  failedAt: string | null;
  createdAt: string;
}

Deno.test("the delivery log: status, attempts, last answer, latency, next retry; cursor pages; no body", () => {
  // The receiver has read the body already: the one refused is found in what it recorded.
  const receiver: Receiver = startReceiver((request) =>
    receiver.messages.find((m) => m.id === request.headers.get("webhook-id"))?.body
        .includes("log-refused")
      ? new Response("not today", { status: 503 })
      : new Response("ok")
  );
  return withWebhookFunctions(async (functions, resolver) => {
    resolver.answers.set("receiver.hooks.test", ["127.0.0.1"]);
    const endpoint = await register(functions, receiver, ["admin.user_created"]);
    const emails = ["log-one", "log-refused", "log-two"].map((tag) => uniqueEmail(tag));
    for (const email of emails) {
      const made = await functions.call("POST", "/admin/users", admin, {
        email,
        name: "Logged",
        serviceAccount: true,
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
    }
    const rows = await untilDeliveries(
      endpoint.id,
      (rows) => rows.length === 3 && rows.every((row) => row.last_status !== null),
    );

    const first = await functions.call(
      "GET",
      `/admin/webhooks/${endpoint.id}/deliveries?limit=2`,
      admin,
    );
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.limit, 2);
    assert.ok(first.body.nextCursor);
    const second = await functions.call(
      "GET",
      `/admin/webhooks/${endpoint.id}/deliveries?limit=2&cursor=${first.body.nextCursor}`,
      admin,
    );
    assert.equal(second.body.nextCursor, null);
    const listed: Delivery[] = [...first.body.deliveries, ...second.body.deliveries];
    assert.deepEqual(
      listed.map((delivery) => delivery.id),
      rows.map((row) => row.id).reverse(),
      "newest first, each once",
    );

    const [two, refused, one] = listed;
    for (const delivered of [one, two]) {
      assert.equal(delivered.status, "delivered");
      assert.equal(delivered.type, "admin.user_created");
      assert.equal(delivered.attempts, 1);
      assert.equal(delivered.lastStatus, 200);
      assert.equal(delivered.lastResponse, "ok");
      assert.equal(typeof delivered.lastLatencyMs, "number");
      assert.ok(delivered.lastLatencyMs! >= 0 && delivered.lastLatencyMs! < 15_000);
      assert.ok(delivered.deliveredAt && delivered.lastAttemptAt);
      assert.equal(delivered.nextAttemptAt, null, "nothing more to come");
    }
    assert.equal(refused.status, "pending");
    assert.equal(refused.attempts, 1);
    assert.equal(refused.lastStatus, 503);
    assert.equal(refused.lastResponse, "not today");
    const retryIn = Date.parse(refused.nextAttemptAt!) - Date.now();
    assert.ok(retryIn > 0 && retryIn <= 10_000, `retried in ~10 s, not ${retryIn} ms`);
    assert.equal(refused.failedAt, null);
    // The message is the webhook-id the receiver saw; its event the audit event's id.
    const seen = receiver.messages.find((message) => message.id === refused.id)!;
    assert.equal((verifyMessage(endpoint.secret, seen).data as { id: string }).id, refused.eventId);

    // Never the body: it is audit data (audit:read's), and it names the people.
    const text = JSON.stringify([first.body, second.body]);
    for (const email of emails) assert.ok(!text.includes(email), "no payload in the log");

    const missing = await functions.call(
      "GET",
      `/admin/webhooks/${crypto.randomUUID()}/deliveries`,
      admin,
    );
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.message, "No such webhook endpoint.");
    const badCursor = await functions.call(
      "GET",
      `/admin/webhooks/${endpoint.id}/deliveries?cursor=nope`,
      admin,
    );
    assert.equal(badCursor.status, 400);
  }).finally(() => receiver.close());
});

Deno.test("a test message goes to that endpoint only, signed, through the outbox, audited", () => {
  const tested = startReceiver();
  const other = startReceiver();
  return withWebhookFunctions(async (functions, resolver) => {
    resolver.answers.set("receiver.hooks.test", ["127.0.0.1"]);
    // It subscribes to nothing that happens here: a test goes whatever the endpoint wants.
    const endpoint = await register(functions, tested, ["auth.password_reset_requested"]);
    const bystander = await register(functions, other, ["*"]);

    const sent = await functions.call("POST", `/admin/webhooks/${endpoint.id}/test`, admin);
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    assert.equal(sent.body.endpointId, endpoint.id);

    const message = await tested.waitFor((m) => m.id === sent.body.id);
    const payload = verifyMessage(endpoint.secret, message) as {
      type: string;
      timestamp: string;
      data: Record<string, unknown>;
    };
    assert.equal(payload.type, "webhook.test");
    // Its data is the audit event of the request, as GET /admin/audit shows it.
    const audit = await functions.call(
      "GET",
      `/admin/audit?targetId=${endpoint.id}&action=webhook.test_sent`,
      admin,
    );
    assert.equal(audit.body.events.length, 1);
    assert.deepEqual(payload.data, audit.body.events[0]);
    assert.equal(payload.data.id, sent.body.eventId);
    assert.equal(payload.data.targetId, endpoint.id);

    const [delivery] = await untilDeliveries(
      endpoint.id,
      (rows) => rows[0]?.delivered_at !== null,
    );
    assert.equal(delivery.id, sent.body.id);
    assert.equal(delivery.event_type, "webhook.test");
    const log = await functions.call("GET", `/admin/webhooks/${endpoint.id}/deliveries`, admin);
    assert.equal(log.body.deliveries[0].type, "webhook.test");
    assert.equal(log.body.deliveries[0].status, "delivered");

    // The bystander hears the audit event (it wants every one), never the test message.
    await other.waitFor((m) => JSON.parse(m.body).type === "webhook.test_sent");
    assert.ok(!other.messages.some((m) => JSON.parse(m.body).type === "webhook.test"));
    assert.ok(!tested.messages.some((m) => JSON.parse(m.body).type === "webhook.test_sent"));

    // Disabled, it would be sent nothing: refused, and nothing queued.
    await functions.call("PATCH", `/admin/webhooks/${endpoint.id}`, admin, { enabled: false });
    const disabled = await functions.call("POST", `/admin/webhooks/${endpoint.id}/test`, admin);
    assert.equal(disabled.status, 409);
    assert.equal(disabled.body.error.code, "webhook_disabled");
    assert.equal((await deliveriesOf(endpoint.id)).length, 1);
    const missing = await functions.call(
      "POST",
      `/admin/webhooks/${crypto.randomUUID()}/test`,
      admin,
    );
    assert.equal(missing.status, 404);
    await functions.call("DELETE", `/admin/webhooks/${bystander.id}`, admin);
  }).finally(() => Promise.all([tested.close(), other.close()]));
});

Deno.test("registration honours Idempotency-Key; a replay never shows the secret again", () =>
  withWebhookFunctions(async (functions, resolver) => {
    resolver.answers.set("receiver.hooks.test", ["127.0.0.1"]);
    const key = { ...admin, "idempotency-key": `hook-${crypto.randomUUID()}` };
    const body = { url: "http://receiver.hooks.test:9/in", events: ["auth.*"] };
    const created = await functions.call("POST", "/admin/webhooks", key, body);
    assert.equal(created.status, 201);
    assert.match(created.body.secret, /^whsec_/);
    const replayed = await functions.call("POST", "/admin/webhooks", key, body);
    assert.equal(replayed.status, 201);
    assert.equal(replayed.headers.get("idempotency-replayed"), "true");
    assert.deepEqual(replayed.body, { ...created.body, secret: null });
    const [{ count }] = await withDatabase((sql) =>
      sql<{ count: number }[]>`
        select count(*)::int as count from latchkey.audit_events
        where action = 'webhook.created' and target_id = ${created.body.id}`
    );
    assert.equal(count, 1, "one endpoint, registered once");
    const other = await functions.call("POST", "/admin/webhooks", key, {
      ...body,
      events: ["admin.*"],
    });
    assert.equal(other.status, 409);
    assert.equal(other.body.error.code, "idempotency_key_reused");
  }));

Deno.test("a test message, a retry and a rotation honour Idempotency-Key: a replay does nothing again", () => {
  const receiver = startReceiver();
  return withWebhookFunctions(async (functions, resolver) => {
    resolver.answers.set("receiver.hooks.test", ["127.0.0.1"]);
    const endpoint = await register(functions, receiver, ["auth.password_reset_requested"]);
    const once = async (path: string, key: string, body?: unknown) => {
      const headers = { ...admin, "idempotency-key": key };
      const first = await functions.call("POST", path, headers, body);
      const replay = await functions.call("POST", path, headers, body);
      assert.equal(first.headers.get("idempotency-replayed"), null);
      assert.equal(replay.status, first.status, JSON.stringify(replay.body));
      assert.equal(replay.headers.get("idempotency-replayed"), "true");
      return [first, replay];
    };
    const audited = async (action: string) => {
      const [{ count }] = await withDatabase((sql) =>
        sql<{ count: number }[]>`
          select count(*)::int as count from latchkey.audit_events
          where action = ${action} and target_id = ${endpoint.id}`
      );
      return count;
    };

    // A test message: one queued, however often the lost answer is asked again.
    const testKey = `test-${crypto.randomUUID()}`;
    const [sent, sentAgain] = await once(`/admin/webhooks/${endpoint.id}/test`, testKey);
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    assert.deepEqual(sentAgain.body, sent.body);
    const [delivered] = await untilDeliveries(
      endpoint.id,
      (rows) => rows[0]?.delivered_at !== null,
    );
    assert.equal((await deliveriesOf(endpoint.id)).length, 1);
    assert.equal(await audited("webhook.test_sent"), 1);
    // The key names that request only: with another path (no body here) it is refused.
    const reused = await functions.call(
      "POST",
      `/admin/webhooks/${endpoint.id}/rotate-secret`,
      { ...admin, "idempotency-key": testKey },
      {},
    );
    assert.equal(reused.status, 409);
    assert.equal(reused.body.error.code, "idempotency_key_reused");

    // A retry: sent once more; its replay resets nothing (the delivery stays delivered).
    const [retried, retriedAgain] = await once(
      `/admin/webhooks/deliveries/${delivered.id}/retry`,
      `retry-${crypto.randomUUID()}`,
    );
    assert.equal(retried.status, 202);
    assert.deepEqual(retriedAgain.body, retried.body);
    await untilDeliveries(endpoint.id, (rows) => rows[0].delivered_at !== null);
    assert.equal(receiver.messages.filter((m) => m.id === delivered.id).length, 2);
    assert.equal(await audited("webhook.delivery_retried"), 1);

    // A rotation: one new secret, shown once; the replay answers secret: null and rotates
    // nothing, so the first answer's secret is the one that signs.
    const rotateKey = `rotate-${crypto.randomUUID()}`;
    const rotatePath = `/admin/webhooks/${endpoint.id}/rotate-secret`;
    const [rotated, rotatedAgain] = await once(rotatePath, rotateKey, { overlapSeconds: 0 });
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.match(rotated.body.secret, /^whsec_/);
    assert.deepEqual(rotatedAgain.body, { ...rotated.body, secret: null });
    assert.equal(await audited("webhook.secret_rotated"), 1);
    const other = await functions.call("POST", rotatePath, {
      ...admin,
      "idempotency-key": rotateKey,
    }, { overlapSeconds: 60 });
    assert.equal(other.status, 409);
    assert.equal(other.body.error.code, "idempotency_key_reused");
    const [{ stored }] = await withDatabase((sql) =>
      sql<{ stored: string }[]>`
        select response::text as stored from latchkey.idempotency_records
        where idempotency_key = ${rotateKey}`
    );
    assert.ok(!stored.includes(rotated.body.secret.slice(6)), "the secret is never stored");
    const check = await functions.call("POST", `/admin/webhooks/${endpoint.id}/test`, admin);
    assert.equal(check.status, 202);
    verifyMessage(rotated.body.secret, await receiver.waitFor((m) => m.id === check.body.id));
  }).finally(() => receiver.close());
});
