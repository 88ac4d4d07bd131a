import { withDatabase } from "./http.ts";
import { type InProcessFunctions, serveFunctions } from "./in_process.ts";
import type { OutboundNetwork } from "../../functions/_shared/db/runtime.ts";

/**
 * Webhook tests: the real receiver (webhook_receiver.ts), and functions in this process whose
 * resolver the test sets, so a webhook's host name resolves to what the test says (and nothing
 * is looked up off the machine).
 */
export {
  type ReceivedMessage,
  type Receiver,
  startReceiver,
  verifyMessage,
} from "./webhook_receiver.ts";

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
