import type { Config } from "../_shared/config/config.ts";
import { ApiError, errorEnvelope } from "../_shared/ground/errors.ts";
import { apiHeadersWithRequestId } from "../_shared/http/function_app.ts";

/**
 * How the local gateway listens. On loopback: plain `Deno.serve`. Beyond loopback, in front of
 * it, a guard with deadlines: `Deno.serve` has none for request heads or bodies, so a client
 * that opens connections and never finishes a request holds them forever (measured: 100
 * stalled-header connections still open after 99 s). The guard gives each connection
 * LATCHKEY_HEADER_TIMEOUT_SECONDS to send its request head and LATCHKEY_REQUEST_TIMEOUT_SECONDS
 * in all, and serves one request per connection (`Connection: close`), so the two deadlines
 * bound every request, body included. Behind it the server listens on loopback, and the
 * handler still sees the client's own address.
 */

export type Handler = (
  request: Request,
  info: Deno.ServeHandlerInfo,
) => Response | Promise<Response>;

export interface RunningServer {
  port: number;
  shutdown(): Promise<void>;
}

export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

export function serveGateway(
  config: Config,
  handler: Handler,
  onListen: (port: number) => void,
): RunningServer {
  if (isLoopback(config.LATCHKEY_HOST)) {
    let port = config.LATCHKEY_PORT;
    const server = Deno.serve({
      hostname: config.LATCHKEY_HOST,
      port: config.LATCHKEY_PORT,
      onListen: (address) => onListen(port = address.port),
    }, handler);
    return {
      get port() {
        return port;
      },
      shutdown: () => server.shutdown(),
    };
  }
  return serveWithDeadlines(
    {
      hostname: config.LATCHKEY_HOST,
      port: config.LATCHKEY_PORT,
      headerTimeoutMs: config.LATCHKEY_HEADER_TIMEOUT_SECONDS * 1000,
      requestTimeoutMs: config.LATCHKEY_REQUEST_TIMEOUT_SECONDS * 1000,
    },
    handler,
    onListen,
  );
}

export interface DeadlineOptions {
  hostname: string;
  port: number;
  headerTimeoutMs: number;
  requestTimeoutMs: number;
}

/** Larger request heads are refused with 431, as a proxy would. */
const maxHeadBytes = 32 * 1024;
const headEnd = [13, 10, 13, 10];

export function serveWithDeadlines(
  options: DeadlineOptions,
  handler: Handler,
  onListen: (port: number) => void,
): RunningServer {
  // The client behind each loopback connection the guard opens, by that connection's port.
  const clients = new Map<number, Deno.NetAddr>();
  const inner = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request, info) => {
      const client = clients.get(info.remoteAddr.port);
      return handler(request, client ? { ...info, remoteAddr: client } : info);
    },
  );
  const listener = Deno.listen({ hostname: options.hostname, port: options.port });
  const open = new Set<() => void>();
  const port = (listener.addr as Deno.NetAddr).port;
  onListen(port);

  async function guard(conn: Deno.TcpConn) {
    let upstream: Deno.TcpConn | null = null;
    let upstreamPort: number | null = null;
    const close = () => {
      clearTimeout(headerDeadline);
      clearTimeout(requestDeadline);
      open.delete(close);
      if (upstreamPort !== null) clients.delete(upstreamPort);
      for (const side of [conn, upstream]) {
        try {
          side?.close();
        } catch {
          // Already closed.
        }
      }
    };
    const headerDeadline = setTimeout(close, options.headerTimeoutMs);
    const requestDeadline = setTimeout(close, options.requestTimeoutMs);
    open.add(close);
    try {
      const received = await readHead(conn);
      if (received === "too_large") {
        clearTimeout(headerDeadline);
        await refuseLargeHead(conn);
        return;
      }
      if (!received) return;
      clearTimeout(headerDeadline);
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: inner.addr.port });
      upstreamPort = (upstream.localAddr as Deno.NetAddr).port;
      clients.set(upstreamPort, conn.remoteAddr as Deno.NetAddr);
      await writeAll(upstream, oneRequestOnly(received.head));
      await writeAll(upstream, received.rest);
      // The client may half-close after its body; the answer still has to reach it.
      conn.readable.pipeTo(upstream.writable, { preventClose: true }).catch(() => {});
      await upstream.readable.pipeTo(conn.writable, { preventClose: true });
    } catch {
      // A client or the deadline closed the connection; nothing to answer.
    } finally {
      close();
    }
  }

  (async () => {
    try {
      for await (const conn of listener) void guard(conn);
    } catch {
      // The listener was closed: shutting down.
    }
  })();

  return {
    port,
    async shutdown() {
      listener.close();
      for (const close of [...open]) close();
      await inner.shutdown();
    },
  };
}

/**
 * 431 with the error envelope, as the functions answer everything else. The rest of the head is
 * then read and dropped for a moment: closing on unread bytes would reset the connection and
 * the client could lose the answer.
 */
async function refuseLargeHead(conn: Deno.Conn): Promise<void> {
  const requestId = crypto.randomUUID();
  const body = JSON.stringify(errorEnvelope(new ApiError("request_header_too_large"), requestId));
  const head = [
    "HTTP/1.1 431 Request Header Fields Too Large",
    "Content-Type: application/json",
    `Content-Length: ${new TextEncoder().encode(body).length}`,
    "Connection: close",
    ...apiHeadersWithRequestId(requestId).map(([name, value]) => `${name}: ${value}`),
  ].join("\r\n");
  await writeAll(conn, new TextEncoder().encode(`${head}\r\n\r\n${body}`));
  await conn.closeWrite();
  const sink = new Uint8Array(64 * 1024);
  const until = Date.now() + 1_000;
  let drained = 0;
  while (Date.now() < until && drained < 1024 * 1024) {
    const read = await conn.read(sink);
    if (read === null) return;
    drained += read;
  }
}

/**
 * Reads up to the end of the request head; null when the client went away, "too_large" past
 * maxHeadBytes.
 */
async function readHead(
  conn: Deno.Conn,
): Promise<{ head: Uint8Array; rest: Uint8Array } | null | "too_large"> {
  let buffer = new Uint8Array(0);
  const chunk = new Uint8Array(16 * 1024);
  while (true) {
    const read = await conn.read(chunk);
    if (read === null) return null;
    const grown = new Uint8Array(buffer.length + read);
    grown.set(buffer);
    grown.set(chunk.subarray(0, read), buffer.length);
    buffer = grown;
    const end = indexOfHeadEnd(buffer);
    if (end >= 0) {
      return { head: buffer.subarray(0, end), rest: buffer.subarray(end + headEnd.length) };
    }
    if (buffer.length > maxHeadBytes) return "too_large";
  }
}

function indexOfHeadEnd(bytes: Uint8Array): number {
  outer: for (let i = 0; i + headEnd.length <= bytes.length; i++) {
    for (let j = 0; j < headEnd.length; j++) if (bytes[i + j] !== headEnd[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * The head with its Connection header replaced by `Connection: close`, byte for byte otherwise
 * (a byte string, so header values that are not UTF-8 pass unchanged).
 */
export function oneRequestOnly(head: Uint8Array): Uint8Array {
  const text = Array.from(head, (byte) => String.fromCharCode(byte)).join("");
  const lines = text.split("\r\n").filter((line, index) =>
    index === 0 || !/^connection\s*:/i.test(line)
  );
  const rewritten = `${lines.join("\r\n")}\r\nConnection: close\r\n\r\n`;
  return Uint8Array.from(rewritten, (character) => character.charCodeAt(0));
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}
