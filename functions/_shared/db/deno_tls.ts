import { Buffer } from "node:buffer";
import { EventEmitter } from "node:events";

/**
 * TLS to the database on Deno 2.1, the edge runtime's line, where postgres.js' own TLS never
 * completes. postgres.js sends the SSLRequest on its node:net socket, awaits the server's "S",
 * then upgrades with `tls.connect({ socket })`. By then Deno 2.1's node:net has the next read of
 * that socket pending, so the `Deno.startTls` inside its node:tls throws "Busy: TCP stream is
 * currently in use"; node:tls swallows the error ("TODO: Handle this") and emits neither
 * `secureConnect` nor `error`, and the connection ends in CONNECT_TIMEOUT, whatever sslmode says.
 * Its node:tls would not keep our semantics even when the upgrade happens: it ignores
 * `rejectUnauthorized` and `checkServerIdentity`, and a failed handshake surfaces only at the
 * first read.
 *
 * So on 2.1 the TLS connection is ours, handed to postgres.js through its `socket` option (a
 * socket it speaks the protocol over, with `ssl: false` so it does not negotiate again):
 * `Deno.connect`, the SSLRequest, the one-byte answer, `Deno.startTls` with nothing pending, and
 * the handshake awaited before a byte of the protocol is sent. The host name checked is the host
 * as written in the URL; the CA, when configured, is trusted in addition to the system's.
 * Deno 2.1 cannot encrypt without verifying: its TLS has no per-connection switch for that (only
 * the process-wide `--unsafely-ignore-certificate-errors`), so `sslmode=require` verifies there.
 * Deno 2.9 upgrades postgres.js' socket correctly and keeps postgres.js' own TLS.
 */
export const needsDenoTls = /^2\.1\./.test(Deno.version.deno);

export interface DenoTlsOptions {
  /** The host as written in the URL, without IPv6 brackets: connected to, and checked. */
  hostname: string;
  port: number;
  /** PEM CAs trusted for this connection, besides the system's. */
  caCerts?: string[];
  /** `prefer`: a server without TLS is spoken to in plain text, as postgres.js would. */
  prefer?: boolean;
  /**
   * Only encryption was asked for (`sslmode=require`, no CA): verified all the same, and a
   * failed verification says why.
   */
  encryptOnly?: boolean;
  /** PostgreSQL 17's `sslnegotiation=direct`: TLS at once, no SSLRequest. */
  direct?: boolean;
}

/** The socket factory for postgres.js' `socket` option (called once per connection). */
export function denoTlsSocket(options: DenoTlsOptions): () => DenoTlsSocket {
  return () => new DenoTlsSocket(options);
}

/** SSLRequest: length 8, code 80877103. */
const sslRequest = new Uint8Array([0, 0, 0, 8, 4, 210, 22, 47]);
const highWaterMark = 64 * 1024;

/**
 * What postgres.js uses of a node:net socket, over a Deno connection it opens at once: writes
 * wait for the connection and the handshake; a failure to connect is an `error` and a `close`,
 * as from node:net (postgres.js' connect_timeout runs meanwhile and destroys the socket).
 */
export class DenoTlsSocket extends EventEmitter {
  /** `open` from the start: node:net's `opening` would make postgres.js skip `end()`. */
  readyState: "open" | "closed" = "open";
  readonly host: string;
  readonly port: number;
  #conn: Deno.Conn | null = null;
  #ready: Promise<Deno.Conn>;
  #queue: { data: Uint8Array; callback?: (error?: Error | null) => void }[] = [];
  #queued = 0;
  #writing = false;
  #needsDrain = false;
  #ending = false;
  #closed = false;
  #paused = false;
  #resume: (() => void) | null = null;

  constructor(readonly options: DenoTlsOptions) {
    super();
    this.host = options.hostname;
    this.port = options.port;
    this.#ready = this.#open();
    this.#ready.then(
      (conn) => {
        if (this.#closed) return conn.close();
        this.#conn = conn;
        this.readyState = "open";
        this.#read(conn);
        this.#flush();
      },
      (error) => this.#fail(error),
    );
  }

  async #open(): Promise<Deno.Conn> {
    const { hostname, port, caCerts, prefer, direct } = this.options;
    const tcp = await Deno.connect({ hostname, port });
    try {
      tcp.setNoDelay(true);
      tcp.setKeepAlive(true);
      if (this.#closed) throw new Error("destroyed while connecting");
      if (!direct) {
        await writeAll(tcp, sslRequest);
        const answer = new Uint8Array(1);
        if (await tcp.read(answer) !== 1) throw new Error("the server closed the connection");
        if (answer[0] !== 83 /* S */) {
          if (prefer) return tcp;
          throw Object.assign(new Error("the server does not support TLS"), {
            code: "ESSLREFUSED",
          });
        }
      }
      const tls = await Deno.startTls(tcp, {
        hostname,
        caCerts: caCerts ?? [],
        ...(direct ? { alpnProtocols: ["postgresql"] } : {}),
      });
      try {
        // Certificate and host name are checked here, before postgres.js sends its password.
        await tls.handshake();
      } catch (error) {
        tls.close();
        if (!this.options.encryptOnly) throw error;
        throw new Error(
          `${(error as Error).message}: Deno 2.1 cannot encrypt without verifying, so an ` +
            "sslmode asking only for encryption verifies certificate and host name here; set " +
            "LATCHKEY_DB_CA_CERT to the CA that signs the database's certificate",
          { cause: error },
        );
      }
      return tls;
    } catch (error) {
      try {
        tcp.close();
      } catch {
        // Already taken over by startTls, or closed.
      }
      throw error;
    }
  }

  write(data: Uint8Array | string, callback?: (error?: Error | null) => void): boolean {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    if (this.#closed || this.#ending) {
      const error = Object.assign(new Error("write after end"), { code: "EPIPE" });
      queueMicrotask(() => callback?.(error));
      return false;
    }
    this.#queue.push({ data: bytes, callback });
    this.#queued += bytes.length;
    if (this.#conn) this.#flush();
    if (this.#queued < highWaterMark) return true;
    this.#needsDrain = true;
    return false;
  }

  /** Sends what is queued (and `data`), then closes; the server ends the session on Terminate. */
  end(data?: Uint8Array): this {
    if (data && !this.#ending) this.write(data);
    this.#ending = true;
    if (this.#conn && !this.#writing) this.#shutdown();
    return this;
  }

  destroy(error?: Error): this {
    if (error) this.#fail(error);
    else this.#close(false);
    return this;
  }

  pause(): this {
    this.#paused = true;
    return this;
  }

  resume(): this {
    this.#paused = false;
    this.#resume?.();
    this.#resume = null;
    return this;
  }

  /** Keep-alive is set on the TCP connection before the handshake. */
  setKeepAlive(): this {
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  async #flush() {
    const conn = this.#conn;
    if (this.#writing || !conn) return;
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const batch = this.#queue;
        this.#queue = [];
        const bytes = batch.length === 1 ? batch[0].data : concat(batch.map((x) => x.data));
        await writeAll(conn, bytes);
        this.#queued -= bytes.length;
        for (const { callback } of batch) callback?.(null);
      }
    } catch (error) {
      this.#writing = false;
      this.#fail(error);
      return;
    }
    this.#writing = false;
    if (this.#closed) return;
    if (this.#ending) return this.#shutdown();
    if (this.#needsDrain) {
      this.#needsDrain = false;
      this.emit("drain");
    }
  }

  async #read(conn: Deno.Conn) {
    const buffer = new Uint8Array(64 * 1024);
    while (!this.#closed) {
      if (this.#paused) await new Promise<void>((resolve) => this.#resume = resolve);
      let count: number | null;
      try {
        count = await conn.read(buffer);
      } catch (error) {
        if (!this.#closed) this.#fail(error);
        return;
      }
      if (count === null) break;
      if (this.#closed) return;
      // A copy: postgres.js keeps the chunks it is given.
      this.emit("data", Buffer.from(buffer.subarray(0, count)));
    }
    this.#close(false);
  }

  #shutdown() {
    this.#close(false);
  }

  #fail(error: unknown) {
    if (this.#closed) return;
    if (this.listenerCount("error") > 0) this.emit("error", error);
    this.#close(true);
  }

  #close(hadError: boolean) {
    if (this.#closed) return;
    this.#closed = true;
    this.readyState = "closed";
    try {
      this.#conn?.close();
    } catch {
      // Already closed.
    }
    this.#conn = null;
    const failed = Object.assign(new Error("socket closed"), { code: "EPIPE" });
    for (const { callback } of this.#queue.splice(0)) callback?.(failed);
    this.#resume?.();
    // node:net emits `close` on a later tick, after the caller of destroy() or end() is done.
    queueMicrotask(() => this.emit("close", hadError));
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(chunks.reduce((total, chunk) => total + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array) {
  for (let offset = 0; offset < bytes.length;) offset += await conn.write(bytes.subarray(offset));
}
