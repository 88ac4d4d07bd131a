import assert from "node:assert/strict";
import { loadConfig } from "../../../functions/_shared/config/config.ts";
import { createDatabase } from "../../../functions/_shared/db/database.ts";
import { deliverDueWebhooks } from "../../../functions/_shared/webhooks/webhook_outbox.ts";
import {
  newWebhookSecret,
  sealWebhookSecret,
} from "../../../functions/_shared/webhooks/webhook_secrets.ts";
import { uniqueEmail, withDatabase } from "../../support/http.ts";
import type { InProcessFunctions } from "../../support/in_process.ts";
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
 * Delivery, end to end, to a real receiver on 127.0.0.1 that verifies every message with the
 * `standardwebhooks` library: the message is the audit event as GET /admin/audit shows it,
 * queued in the event's transaction (a rolled-back one sends nothing), sent after the answer,
 * retried with backoff, given up after LATCHKEY_WEBHOOK_MAX_ATTEMPTS, re-delivered on request
 * with the same webhook-id, signed by both secrets while a rotation overlaps, never slowing a
 * request or another endpoint, and never sent twice at once by two isolates.
 */

async function register(
  functions: InProcessFunctions,
  receiver: Receiver,
  events: string[],
  host = "receiver.hooks.test",
) {
  const created = await functions.call("POST", "/admin/webhooks", admin, {
    url: `http://${host}:${receiver.port}/hooks?from=latchkey`,
    events,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body as { id: string; secret: string };
}

async function createUser(functions: InProcessFunctions, tag: string) {
  const made = await functions.call("POST", "/admin/users", admin, {
    email: uniqueEmail(tag),
    name: tag,
    password: "correct horse battery staple",
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  return made.body.user.id as string;
}

Deno.test("an audited change reaches the receiver as a verified Standard Webhooks message", () => {
  const receiver = startReceiver();
  return withWebhookFunctions(async (functions, resolver) => {
    resolver.answers.set("receiver.hooks.test", ["127.0.0.1"]);
    const endpoint = await register(functions, receiver, ["admin.*"]);
    const userId = await createUser(functions, "hooked");

    const message = await receiver.waitFor((m) => m.body.includes(userId));
    const payload = verifyMessage(endpoint.secret, message) as {
      type: string;
      timestamp: string;
      data: Record<string, unknown>;
    };
    assert.equal(payload.type, "admin.user_created");
    assert.equal(message.host, `receiver.hooks.test:${receiver.port}`);
    const audit = await functions.call(
      "GET",
      `/admin/audit?targetId=${userId}&action=admin.user_created`,
      admin,
    );
    assert.deepEqual(payload.data, audit.body.events[0], "data is the event as the API shows it");
    assert.equal(payload.timestamp, audit.body.events[0].createdAt);
    assert.ok(Math.abs(Number(message.timestamp) - Date.now() / 1000) < 30);

    const [delivery] = await untilDeliveries(endpoint.id, (rows) => rows[0]?.delivered_at !== null);
    assert.equal(message.id, delivery.id, "webhook-id is the delivery's id");
    assert.equal(delivery.event_id, payload.data.id);
    assert.equal(delivery.last_status, 200);
    assert.equal(delivery.attempts, 1);
    // Not subscribed: nothing else came (the endpoint's own registration is webhook.created).
    assert.deepEqual(
      receiver.messages.map((m) => JSON.parse(m.body).type),
      ["admin.user_created"],
    );
    // Tampered with, the message fails the receiver's check.
    assert.throws(() => verifyMessage(endpoint.secret, { ...message, body: message.body + " " }));
  }).finally(() => receiver.close());
});

Deno.test("a rolled-back event sends nothing; the committed one after it arrives", () => {
  const receiver = startReceiver();
  return withWebhookFunctions(async (functions, resolver) => {
    resolver.answers.set("receiver.hooks.test", ["127.0.0.1"]);
    const endpoint = await register(functions, receiver, ["auth.sign_out", "admin.*"]);
    await assert.rejects(() =>
      withDatabase((sql) =>
        sql.begin(async (tx) => {
          await tx`select latchkey.append_audit_event('system', null, null, 'auth.sign_out',
            null, null, '{"requestId": "rolled-back"}')`;
          throw new Error("the change fails after its audit event");
        })
      ), /the change fails/);
    const userId = await createUser(functions, "after-rollback");
    await receiver.waitFor((m) => m.body.includes(userId));
    assert.equal(receiver.messages.length, 1);
    assert.ok(!receiver.messages[0].body.includes("rolled-back"));
    const rows = await deliveriesOf(endpoint.id);
    assert.deepEqual(rows.map((row) => row.event_type), ["admin.user_created"]);
  }).finally(() => receiver.close());
});

Deno.test("a failing endpoint: backoff, given up after the configured attempts, re-delivered", () => {
  let healthy = false;
  const receiver = startReceiver(() =>
    healthy ? new Response("thanks") : new Response("boom: " + "x".repeat(5000), { status: 500 })
  );
  return withWebhookFunctions(async (functions, resolver) => {
    resolver.answers.set("receiver.hooks.test", ["127.0.0.1"]);
    const endpoint = await register(functions, receiver, ["admin.user_created"]);
    await createUser(functions, "retried");
    const [first] = await untilDeliveries(endpoint.id, (rows) =>
      rows[0]?.attempts === 1 &&
      rows[0].last_status !== null);
    assert.equal(first.last_status, 500);
    assert.ok(first.last_error!.startsWith("boom: xxx"));
    assert.ok(first.last_error!.length <= 300, "a short excerpt");
    assert.equal(first.failed_at, null, "not given up after one attempt");
    const wait = first.next_attempt_at.getTime() - Date.now();
    assert.ok(wait > 5_000 && wait <= 10_000, `first retry in ~10 s, not ${wait} ms`);

    // Due again (the clock moved): the next answer's sweep tries once more: the last try.
    await withDatabase((sql) =>
      sql`update latchkey.webhook_deliveries set next_attempt_at = now()
          where id = ${first.id}`
    );
    await functions.call("GET", "/admin/webhooks", admin);
    const [failed] = await untilDeliveries(endpoint.id, (rows) => rows[0]?.failed_at !== null);
    assert.equal(failed.attempts, 2);
    assert.equal(failed.last_status, 500);
    const secondRetry = failed.next_attempt_at.getTime() - Date.now();
    assert.ok(secondRetry > 15_000, "the backoff doubled");
    assert.equal(receiver.messages.length, 2);
    assert.equal(receiver.messages[0].id, receiver.messages[1].id, "the same webhook-id");

    // Given up: no answer sends it again, until someone asks.
    await withDatabase((sql) =>
      sql`update latchkey.webhook_deliveries set next_attempt_at = now() where id = ${first.id}`
    );
    await functions.call("GET", "/admin/webhooks", admin);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(receiver.messages.length, 2);

    healthy = true;
    const retried = await functions.call(
      "POST",
      `/admin/webhooks/deliveries/${first.id}/retry`,
      admin,
    );
    assert.equal(retried.status, 202);
    assert.deepEqual(retried.body, { id: first.id, endpointId: endpoint.id });
    const [delivered] = await untilDeliveries(
      endpoint.id,
      (rows) => rows[0]?.delivered_at !== null,
    );
    assert.equal(delivered.attempts, 1, "a fresh budget");
    assert.equal(delivered.failed_at, null);
    assert.equal(receiver.messages.at(-1)!.id, first.id, "re-delivered with the same webhook-id");
    verifyMessage(endpoint.secret, receiver.messages.at(-1)!);
  }, { LATCHKEY_WEBHOOK_MAX_ATTEMPTS: "2" }).finally(() => receiver.close());
});

Deno.test("during a rotation's overlap both secrets verify; after it only the new one", () => {
  const receiver = startReceiver();
  return withWebhookFunctions(async (functions, resolver) => {
    resolver.answers.set("receiver.hooks.test", ["127.0.0.1"]);
    const endpoint = await register(functions, receiver, ["admin.user_created"]);
    const rotated = await functions.call(
      "POST",
      `/admin/webhooks/${endpoint.id}/rotate-secret`,
      admin,
      { overlapSeconds: 600 },
    );
    assert.equal(rotated.status, 200);
    const during = await createUser(functions, "overlap");
    const overlapping = await receiver.waitFor((m) => m.body.includes(during));
    assert.equal(overlapping.signature.split(" ").length, 2, "two signatures");
    assert.ok(overlapping.signature.split(" ").every((part) => part.startsWith("v1,")));
    verifyMessage(endpoint.secret, overlapping);
    verifyMessage(rotated.body.secret, overlapping);

    await withDatabase((sql) =>
      sql`update latchkey.webhook_endpoints set previous_secret_expires_at = now()
          where id = ${endpoint.id}`
    );
    const after = await createUser(functions, "after-overlap");
    const single = await receiver.waitFor((m) => m.body.includes(after));
    assert.equal(single.signature.split(" ").length, 1);
    verifyMessage(rotated.body.secret, single);
    assert.throws(() => verifyMessage(endpoint.secret, single), "the old secret no longer works");
  }).finally(() => receiver.close());
});

// The bounds are the slow endpoint's timeout: a request or a fast endpoint held up by it would
// take at least that; unhindered they take milliseconds (load from other workers aside).
Deno.test("a slow endpoint slows neither the request nor another endpoint", () => {
  const timeoutMs = 4000;
  const slow = startReceiver(async () => {
    await new Promise((resolve) => setTimeout(resolve, timeoutMs + 500));
    return new Response("late");
  });
  const fast = startReceiver();
  return withWebhookFunctions(async (functions, resolver) => {
    resolver.answers.set("slow.hooks.test", ["127.0.0.1"]);
    resolver.answers.set("fast.hooks.test", ["127.0.0.1"]);
    const slowEndpoint = await register(functions, slow, ["webhook.updated"], "slow.hooks.test");
    const fastEndpoint = await register(functions, fast, ["webhook.updated"], "fast.hooks.test");
    const change = async (description: string) => {
      const started = performance.now();
      const changed = await functions.call("PATCH", `/admin/webhooks/${fastEndpoint.id}`, admin, {
        description,
      });
      assert.equal(changed.status, 200);
      return { started, ms: performance.now() - started };
    };
    await change("first");
    await slow.waitFor((m) => m.body.includes('"first"'));
    await fast.waitFor((m) => m.body.includes('"first"'));
    // The slow endpoint now hangs on "first": a request and the fast endpoint go on unhindered.
    const second = await change("second");
    assert.ok(second.ms < timeoutMs / 2, `the request took ${second.ms} ms`);
    const fastSecond = await fast.waitFor((m) => m.body.includes('"second"'));
    assert.ok(
      fastSecond.receivedAt - second.started < timeoutMs / 2,
      "the fast endpoint's message did not wait behind the slow lane",
    );
    assert.ok(
      !slow.messages.some((m) => m.body.includes('"second"')),
      "the slow lane takes no more while it is busy",
    );
    const [timedOut] = await untilDeliveries(
      slowEndpoint.id,
      (rows) => rows[0]?.last_error !== null && rows[0]?.last_error !== undefined,
    );
    assert.match(timedOut.last_error!, /no answer within \d+ ms/);
    assert.equal(timedOut.last_status, null);
    assert.ok(timedOut.last_latency_ms! >= timeoutMs - 50, String(timedOut.last_latency_ms));
  }, { LATCHKEY_WEBHOOK_TIMEOUT_MS: String(timeoutMs) }).finally(async () => {
    await slow.close();
    await fast.close();
  });
});

Deno.test("a message queued while its endpoint's lane is busy goes when the lane ends", () => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => release = resolve);
  let first = true;
  const receiver = startReceiver(async () => {
    if (first) {
      first = false;
      await held;
    }
    return new Response("ok");
  });
  return withWebhookFunctions(async (functions, resolver) => {
    resolver.answers.set("receiver.hooks.test", ["127.0.0.1"]);
    await register(functions, receiver, ["admin.user_created"]);
    await createUser(functions, "lane-first");
    await receiver.waitFor(() => true);
    // Its answer's sweep passes the endpoint by: its lane is still waiting for the first answer.
    const second = await createUser(functions, "lane-second");
    await new Promise((resolve) => setTimeout(resolve, 200));
    release();
    // No request comes after: the lane, ending, sends what was queued meanwhile.
    await receiver.waitFor((m) => m.body.includes(second), 5_000);
  }).finally(() => {
    release();
    return receiver.close();
  });
});

Deno.test("two isolates sweeping at once deliver each message once (the lease)", async () => {
  const receiver = startReceiver(async () => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    return new Response("ok");
  });
  const id = crypto.randomUUID();
  const { bytes } = newWebhookSecret();
  const sealed = await sealWebhookSecret(testMfaKey, id, bytes);
  const config = loadConfig({
    LATCHKEY_DB_URL: Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!,
    LATCHKEY_LOG_LEVEL: "silent",
    LATCHKEY_MFA_ENCRYPTION_KEY: testMfaKey,
    LATCHKEY_WEBHOOK_ALLOW_ADDRESSES: "127.0.0.1",
  });
  const isolates = [1, 2].map(() => ({ config, sql: createDatabase(config) }));
  try {
    await withDatabase(async (sql) => {
      await sql`insert into latchkey.webhook_endpoints (id, url, events, secret_ciphertext)
        values (${id}, ${`http://127.0.0.1:${receiver.port}/`}, '{lease.fixture}', ${sealed})`;
      await sql`select latchkey.append_audit_event('system', null, null, 'lease.fixture', null,
        null, '{}') from generate_series(1, 30)`;
    });
    // Each sweep hands an endpoint at most four messages at a time: sweep until none is left.
    for (let round = 0; round < 20; round++) {
      await Promise.all(isolates.map((isolate) => deliverDueWebhooks(isolate)));
    }
    const rows = await deliveriesOf(id);
    assert.equal(rows.length, 30);
    assert.ok(rows.every((row) => row.delivered_at !== null && row.attempts === 1));
    const ids = receiver.messages.map((m) => m.id);
    assert.equal(ids.length, 30, "each message sent once");
    assert.equal(new Set(ids).size, 30);
  } finally {
    await Promise.all(isolates.map((isolate) => isolate.sql.end()));
    await withDatabase((sql) => sql`delete from latchkey.webhook_endpoints where id = ${id}`);
    await receiver.close();
  }
});
