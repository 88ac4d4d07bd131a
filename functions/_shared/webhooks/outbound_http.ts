/**
 * One HTTP/1.1 POST to an address we checked, not to a name. fetch cannot do that: it resolves
 * the URL's host itself (a second lookup, which DNS rebinding would answer with 127.0.0.1), and
 * neither Deno 2.1 (the edge runtime's line) nor 2.9 lets a fetch client pin an address. So the
 * connection is ours: `Deno.connect` to the checked address, then for https `Deno.startTls` with
 * the URL's host name, which is the name sent as SNI and the name the certificate is verified
 * against (the address plays no part in verification); the request is written by hand with
 * `Host` and `Connection: close`. The answer is never followed anywhere (a 3xx is just a
 * status: no redirect leaves the checked address) and only its head and the first bytes of its
 * body are read, up to `maxAnswerBytes`. Everything, connection to last byte, is bounded by
 * `timeoutMs`. Limits: HTTP/1.1 only (no h2), one address tried, no proxy.
 */

export interface PinnedPost {
  /** The checked address connected to. */
  address: string;
  port: number;
  /** Host header, SNI and certificate name. */
  host: string;
  /** `Host` as sent: the URL's host with a non-default port. */
  hostHeader: string;
  tls: boolean;
  /** Path and query. */
  target: string;
  headers: Record<string, string>;
  body: Uint8Array;
  timeoutMs: number;
  caCerts?: string[];
}

export interface PinnedAnswer {
  status: number;
  /** The start of the body, as text (chunked bodies unchunked). */
  excerpt: string;
}

/** What of an answer is read at most: its head and the start of its body. */
export const maxAnswerBytes = 16 * 1024;
const excerptBytes = 1024;

export async function postToAddress(request: PinnedPost): Promise<PinnedAnswer> {
  let conn: Deno.Conn | null = null;
  let timedOut = false;
  let expire!: () => void;
  const expired = new Promise<never>((_, reject) => expire = () => reject(new Error("timed out")));
  expired.catch(() => {});
  const timer = setTimeout(() => {
    timedOut = true;
    expire();
    try {
      conn?.close();
    } catch {
      // Closed already.
    }
  }, request.timeoutMs);
  try {
    // A connect has no deadline of its own: to an address that drops SYNs it waits minutes
    // (the kernel's retries), which would hold the endpoint's lane past its lease. So the
    // timeout races it, and a connection that comes too late is closed.
    const connecting = Deno.connect({ hostname: request.address, port: request.port });
    connecting.then((late) => {
      if (timedOut) late.close();
    }, () => {});
    const tcp = await Promise.race([connecting, expired]);
    conn = tcp;
    if (request.tls) {
      conn = await Deno.startTls(tcp, {
        hostname: request.host,
        caCerts: request.caCerts,
        alpnProtocols: ["http/1.1"],
      });
    }
    const head = [
      `POST ${request.target} HTTP/1.1`,
      `Host: ${request.hostHeader}`,
      ...Object.entries(request.headers).map(([name, value]) => `${name}: ${value}`),
      `Content-Length: ${request.body.length}`,
      "Connection: close",
      "",
      "",
    ].join("\r\n");
    await writeAll(conn, new TextEncoder().encode(head));
    await writeAll(conn, request.body);
    return await readAnswer(conn);
  } catch (error) {
    if (timedOut) throw new Error(`no answer within ${request.timeoutMs} ms`);
    throw error;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // Closed by the timer or the peer.
    }
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

function indexOf(haystack: Uint8Array, needle: number[], from = 0): number {
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

const headEnd = [13, 10, 13, 10];

/** Reads until the head and enough of the body are in (or the peer closes, or the limit). */
async function readAnswer(conn: Deno.Conn): Promise<PinnedAnswer> {
  const buffer = new Uint8Array(maxAnswerBytes);
  let length = 0;
  let bodyStart = -1;
  let wanted = Infinity;
  let chunked = false;
  while (length < buffer.length) {
    const read = await conn.read(buffer.subarray(length));
    if (read === null) break;
    length += read;
    if (bodyStart < 0) {
      const end = indexOf(buffer.subarray(0, length), headEnd);
      if (end < 0) continue;
      bodyStart = end + 4;
      const head = new TextDecoder().decode(buffer.subarray(0, end));
      const contentLength = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
      chunked = /\r\ntransfer-encoding:[^\r]*chunked/i.test(head);
      if (contentLength !== undefined && !chunked) {
        wanted = Math.min(Number(contentLength), excerptBytes);
      } else if (!chunked) {
        wanted = excerptBytes;
      }
    }
    const body = buffer.subarray(bodyStart, length);
    if (body.length >= wanted) break;
    // A chunked body is read until its last chunk, or as much as an excerpt needs.
    if (chunked && (indexOf(body, [13, 10, 48, 13, 10]) >= 0 || body.length >= excerptBytes)) {
      break;
    }
    if (chunked && body.length >= 3 && indexOf(body.subarray(0, 3), [48, 13, 10]) === 0) break;
  }
  if (bodyStart < 0) {
    const text = new TextDecoder().decode(buffer.subarray(0, Math.min(length, 200)));
    throw new Error(
      length >= buffer.length
        ? `the answer's head is over ${maxAnswerBytes} bytes`
        : `not an HTTP answer: ${JSON.stringify(text)}`,
    );
  }
  const statusLine = new TextDecoder().decode(buffer.subarray(0, indexOf(buffer, [13, 10])));
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1];
  if (!status) throw new Error(`not an HTTP answer: ${JSON.stringify(statusLine.slice(0, 100))}`);
  let body: Uint8Array = buffer.subarray(bodyStart, length);
  if (chunked) body = unchunked(body);
  const excerpt = new TextDecoder().decode(body.subarray(0, excerptBytes));
  return { status: Number(status), excerpt };
}

/** The data of the complete chunks read (an excerpt needs no more). */
function unchunked(bytes: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    const lineEnd = indexOf(bytes, [13, 10], at);
    if (lineEnd < 0) break;
    const size = parseInt(new TextDecoder().decode(bytes.subarray(at, lineEnd)), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(bytes.subarray(lineEnd + 2, Math.min(lineEnd + 2 + size, bytes.length)));
    at = lineEnd + 2 + size + 2;
  }
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}
