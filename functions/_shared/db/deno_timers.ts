import { MessageChannel, type MessagePort } from "node:worker_threads";

/**
 * postgres.js coalesces its writes with `setImmediate` and clears that immediate when it flushes
 * early (a pipelined batch of 1 KiB or more, or a socket close). On Deno 2.1, the edge runtime's
 * line, an immediate is a 0 ms timer, and two timer defects hit it:
 * - a timer already due runs even when an I/O callback of the same event-loop turn cleared it:
 *   the stale flush writes `null` ("May not write null values to stream", uncaught, the process
 *   dies at 64 connections) or writes to the socket a database restart closed (same crash, or
 *   the connection never writes again when something catches the error);
 * - a 0 ms timer waits about 1.2 ms, so every round trip to the database pays that much.
 * These immediates run from a message port instead: cleared means cleared, and one costs tens
 * of microseconds. postgres.js looks `setImmediate` up on the global object at call time.
 * Deno 2.9 has neither defect and keeps its own.
 */
export function installPortImmediates(): void {
  Object.assign(globalThis, portImmediates());
}

/**
 * `setImmediate` and `clearImmediate` on a message port of their own, with a timer behind each
 * batch: Deno 2.1 now and then leaves a port's message undelivered for seconds (a test's database
 * connection waited its whole 30 s connect timeout for the immediate that writes its startup
 * message), so a batch whose message has not come within `fallbackMs` runs from the timer.
 * Whichever comes first runs the batch; the other finds it gone. `post` sends the port's message
 * (tests drop it).
 */
export function portImmediates(
  post: (port: MessagePort) => void = (port) => port.postMessage(null),
) {
  let queue: Immediate[] = [];
  let fallback: ReturnType<typeof setTimeout> | null = null;
  const channel = new MessageChannel();
  const runBatch = () => {
    if (fallback !== null) {
      clearTimeout(fallback);
      fallback = null;
    }
    const batch = queue;
    queue = [];
    // Like Node's: keep the process alive only while an immediate is waiting.
    channel.port1.unref();
    for (const [index, immediate] of batch.entries()) {
      if (immediate.cleared) continue;
      immediate.cleared = true;
      try {
        immediate.callback(...immediate.args);
      } catch (error) {
        // The rest still run, as Node's would after an `uncaughtException` handler.
        for (const rest of batch.slice(index + 1).reverse()) schedule(rest, true);
        throw error;
      }
    }
  };
  channel.port1.on("message", runBatch);
  channel.port1.unref();

  const schedule = (immediate: Immediate, first = false) => {
    if (first) queue.unshift(immediate);
    else queue.push(immediate);
    if (queue.length === 1) {
      channel.port1.ref();
      post(channel.port2);
      fallback ??= setTimeout(runBatch, fallbackMs);
    }
  };
  const setImmediate = (callback: (...args: unknown[]) => void, ...args: unknown[]) => {
    const immediate = new Immediate(callback, args);
    schedule(immediate);
    return immediate;
  };
  const clearImmediate = (immediate?: unknown) => {
    if (immediate instanceof Immediate) immediate.cleared = true;
  };
  return { setImmediate, clearImmediate };
}

/** A port's message comes in tens of microseconds; a late one costs this much at most. */
const fallbackMs = 4;

class Immediate {
  cleared = false;
  constructor(
    readonly callback: (...args: unknown[]) => void,
    readonly args: unknown[],
  ) {}
  // Deno 2.1's own immediates ignore these too.
  ref() {
    return this;
  }
  unref() {
    return this;
  }
  hasRef() {
    return true;
  }
}

/** Only Deno 2.1 needs them; newer lines keep their own globals. */
export const needsPortImmediates = /^2\.1\./.test(Deno.version.deno);
