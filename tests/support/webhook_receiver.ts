// deno-lint-ignore no-import-prefix -- test-only, so not in deno.json (docs/testing.md, lockfiles)
import { Webhook } from "npm:standardwebhooks@1.1.1";

/**
 * A webhook receiver as a team would write one: a real HTTP server on 127.0.0.1 that records
 * every message, which `verifyMessage` checks with the `standardwebhooks` library (signature,
 * id, timestamp). The HTTP tests and the benchmark use it.
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
