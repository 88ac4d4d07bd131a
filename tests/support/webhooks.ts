// deno-lint-ignore no-import-prefix -- test-only, so not in deno.json (docs/testing.md, lockfiles)
import { Webhook } from "npm:standardwebhooks@1.1.1";
import { withDatabase } from "./http.ts";
import { type InProcessFunctions, serveFunctions } from "./in_process.ts";
import type { OutboundNetwork } from "../../functions/_shared/db/runtime.ts";

/**
 * A webhook receiver as a team would write one: a real HTTP server on 127.0.0.1 that verifies
 * every message with the `standardwebhooks` library (signature, id, timestamp), and functions
 * in this process whose resolver the test sets, so a webhook's host name resolves to what the
 * test says (and nothing is looked up off the machine).
 */

export interface ReceivedMessage {
  id: string;
  timestamp: string;
  signature: string;
  host: string | null;
  body: string;
  receivedAt: number;
}

export interface Receiver {
  port: number;
  messages: ReceivedMessage[];
  /** The next message (by arrival) matching `accept`, within `ms`. */
  waitFor(accept: (message: ReceivedMessage) => boolean, ms?: number): Promise<ReceivedMessage>;
  close(): Promise<void>;
}

export function startReceiver(
  answer: (request: Request) => Response | Promise<Response> = () =>
    new Response("ok", { status: 200 }),
  options: { cert?: string; key?: string } = {},
): Receiver {
  const messages: ReceivedMessage[] = [];
  const waiting = new Set<() => void>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, ...options },
    async (request) => {
      const body = await request.text();
      messages.push({
        id: request.headers.get("webhook-id") ?? "",
        timestamp: request.headers.get("webhook-timestamp") ?? "",
        signature: request.headers.get("webhook-signature") ?? "",
        host: request.headers.get("host"),
        body,
        receivedAt: performance.now(),
      });
      for (const wake of waiting) wake();
      return await answer(request);
    },
  );
  return {
    port: server.addr.port,
    messages,
    async waitFor(accept, ms = 15_000) {
      const deadline = Date.now() + ms;
      while (true) {
        const found = messages.find(accept);
        if (found) return found;
        if (Date.now() > deadline) {
          throw new Error(`no such message within ${ms} ms (got ${messages.length})`);
        }
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiting.delete(wake);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(wake, 50);
          waiting.add(wake);
        });
      }
    },
    close: () => server.shutdown(),
  };
}

/** What a user's receiver does with a message: the payload, or a throw (bad signature, old). */
export function verifyMessage(secret: string, message: ReceivedMessage): Record<string, unknown> {
  return new Webhook(secret).verify(message.body, {
    "webhook-id": message.id,
    "webhook-timestamp": message.timestamp,
    "webhook-signature": message.signature,
  }) as Record<string, unknown>;
}

export const testMfaKey = btoa(String.fromCharCode(...new Uint8Array(32).fill(7)));
export const testAdminKey = "webhooks-test-admin-key-0123456789abcdef";
export const admin = { "x-admin-key": testAdminKey };

/** A resolver whose answers the test changes; counts its lookups. */
export class StubResolver {
  answers = new Map<string, string[]>();
  lookups: string[] = [];
  resolve = (hostname: string): Promise<string[]> => {
    this.lookups.push(hostname);
    return Promise.resolve(this.answers.get(hostname) ?? []);
  };
}

/**
 * The functions in this process, configured for webhooks to a receiver on 127.0.0.1 (the one
 * loopback address the test configuration allows), with `resolver` as their DNS. Endpoints the
 * test registered are deleted afterwards: the worker's gateway shares the database.
 */
export async function withWebhookFunctions(
  work: (functions: InProcessFunctions, resolver: StubResolver) => Promise<void>,
  env: Record<string, string> = {},
  network: Omit<OutboundNetwork, "resolve"> = {},
): Promise<void> {
  const resolver = new StubResolver();
  const functions = serveFunctions({
    LATCHKEY_ADMIN_KEY: testAdminKey,
    LATCHKEY_MFA_ENCRYPTION_KEY: testMfaKey,
    LATCHKEY_WEBHOOK_ALLOW_ADDRESSES: "127.0.0.1",
    ...env,
  }, { ...network, resolve: resolver.resolve });
  const created: string[] = [];
  const call = functions.call;
  functions.call = async (method, path, headers, body) => {
    const answer = await call(method, path, headers, body);
    if (method === "POST" && path === "/admin/webhooks" && answer.status === 201) {
      created.push(answer.body.id);
    }
    return answer;
  };
  try {
    await work(functions, resolver);
  } finally {
    await functions.close();
    await withDatabase((sql) =>
      sql`delete from latchkey.webhook_endpoints where id = any(${created}::uuid[])`
    );
  }
}

export interface DeliveryRow {
  id: string;
  event_id: string;
  event_type: string;
  attempts: number;
  next_attempt_at: Date;
  last_status: number | null;
  last_error: string | null;
  last_latency_ms: number | null;
  delivered_at: Date | null;
  failed_at: Date | null;
}

export function deliveriesOf(endpointId: string): Promise<DeliveryRow[]> {
  return withDatabase((sql) =>
    sql<DeliveryRow[]>`
      select id, event_id, event_type, attempts, next_attempt_at, last_status, last_error,
        last_latency_ms, delivered_at, failed_at
      from latchkey.webhook_deliveries where endpoint_id = ${endpointId}
      order by created_at, id`
  );
}

/** Polls until `check` holds of the endpoint's deliveries. */
export async function untilDeliveries(
  endpointId: string,
  check: (rows: DeliveryRow[]) => boolean,
  ms = 15_000,
): Promise<DeliveryRow[]> {
  const deadline = Date.now() + ms;
  while (true) {
    const rows = await deliveriesOf(endpointId);
    if (check(rows)) return rows;
    if (Date.now() > deadline) {
      throw new Error(`deliveries never got there: ${JSON.stringify(rows)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
