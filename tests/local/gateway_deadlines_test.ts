import assert from "node:assert/strict";
import postgres from "postgres";
import { oneRequestOnly } from "../../functions/_local/serve.ts";
import { startTestServer } from "../support/server.ts";

/**
 * The local gateway beyond loopback: request heads and whole requests have deadlines, so
 * stalled clients cannot hold connections open (before: 100 stalled-header connections were
 * still open after 99 s).
 */

const databaseUrl = Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!;
const encoder = new TextEncoder();

/** Milliseconds until the server closes the connection, and what it sent until then. */
async function untilClosed(conn: Deno.Conn, started: number) {
  const buffer = new Uint8Array(4096);
  let received = "";
  try {
    for (let read; (read = await conn.read(buffer)) !== null;) {
      received += new TextDecoder().decode(buffer.subarray(0, read));
    }
  } catch {
    // Reset by the server: closed as well.
  }
  conn.close();
  return { ms: performance.now() - started, received };
}

async function msUntilClosed(conn: Deno.Conn, started: number): Promise<number> {
  return (await untilClosed(conn, started)).ms;
}

/** A non-loopback IPv4 address of this machine, if it has one. */
function externalAddress(): string | null {
  return Deno.networkInterfaces().find((nic) =>
    nic.family === "IPv4" && !nic.address.startsWith("127.")
  )?.address ?? null;
}

Deno.test("beyond loopback, stalled heads and bodies are cut at their deadlines", async () => {
  const server = await startTestServer(databaseUrl, {
    LATCHKEY_HOST: "0.0.0.0",
    LATCHKEY_HEADER_TIMEOUT_SECONDS: "1",
    LATCHKEY_REQUEST_TIMEOUT_SECONDS: "3",
    LATCHKEY_LOG_LEVEL: "warn",
    LATCHKEY_ADMIN_KEY: crypto.randomUUID() + crypto.randomUUID(),
  });
  const port = Number(new URL(server.baseUrl).port);
  try {
    // 100 clients that never finish their request head.
    const started = performance.now();
    const stalled = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        await conn.write(encoder.encode("GET /functions/v1/version HTTP/1.1\r\nHost: x\r\n"));
        return conn;
      }),
    );
    const closedAfter = await Promise.all(stalled.map((conn) => msUntilClosed(conn, started)));
    assert.ok(Math.max(...closedAfter) < 2500, `last closed after ${Math.max(...closedAfter)} ms`);
    assert.ok(Math.min(...closedAfter) >= 900, `first closed after ${Math.min(...closedAfter)} ms`);

    // A body that trickles: the head arrives, the body never completes.
    const trickle = await Deno.connect({ hostname: "127.0.0.1", port });
    const trickleStarted = performance.now();
    await trickle.write(encoder.encode(
      "POST /functions/v1/auth/sign-in/email HTTP/1.1\r\nHost: x\r\n" +
        'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"email":',
    ));
    const trickleClosed = await msUntilClosed(trickle, trickleStarted);
    assert.ok(trickleClosed < 4500 && trickleClosed >= 2500, `closed after ${trickleClosed} ms`);

    // Real requests still work, one per connection, and the server still answers after it all.
    const response = await fetch(`${server.baseUrl}/functions/v1/version`);
    assert.equal(response.status, 200);
    assert.equal((await response.json()).environment, "test");
    const keepAlive = await Deno.connect({ hostname: "127.0.0.1", port });
    const keepAliveStarted = performance.now();
    await keepAlive.write(encoder.encode(
      "GET /functions/v1/version HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
    ));
    const oneRequest = await untilClosed(keepAlive, keepAliveStarted);
    assert.match(oneRequest.received, /^HTTP\/1\.1 200/);
    assert.ok(oneRequest.ms < 900, `closed after the answer, ${oneRequest.ms} ms`);

    // A 100 KB header gets the answer a proxy would give, in the API's envelope.
    const large = await Deno.connect({ hostname: "127.0.0.1", port });
    const largeStarted = performance.now();
    const bigHead = encoder.encode(
      `GET /functions/v1/version HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(100_000)}\r\n\r\n`,
    );
    for (let sent = 0; sent < bigHead.length;) sent += await large.write(bigHead.subarray(sent));
    const refused = await untilClosed(large, largeStarted);
    assert.match(refused.received, /^HTTP\/1\.1 431 /);
    const envelope = JSON.parse(refused.received.slice(refused.received.indexOf("\r\n\r\n") + 4));
    assert.equal(envelope.error.code, "request_header_too_large");
    assert.match(refused.received, /x-request-id: [0-9a-f-]{36}/i);

    // The handler sees the client's address, not the guard's loopback hop: a wrong admin key
    // is audited with it. (A cheap refusal: under load a sign-up's password hash alone could
    // outlast this server's 3 s per connection.)
    const address = externalAddress();
    if (address) {
      const wrongKey = await fetch(`http://${address}:${port}/functions/v1/admin/users?limit=1`, {
        headers: { "x-admin-key": `wrong-${crypto.randomUUID()}` },
      });
      assert.equal(wrongKey.status, 401);
      await wrongKey.body?.cancel();
      const requestId = wrongKey.headers.get("x-request-id");
      const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
      try {
        const [event] = await sql`
          select ip_address from latchkey.audit_events
          where request_id = ${requestId} and action = 'admin_key.rejected'`;
        assert.equal(event.ip_address, address);
      } finally {
        await sql.end();
      }
    }
  } finally {
    await server.stop();
  }
});

Deno.test("the guard makes each connection carry one request, the head otherwise unchanged", () => {
  const head = encoder.encode(
    "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nX-Name: caf\xe9",
  );
  const text = Array.from(oneRequestOnly(head), (byte) => String.fromCharCode(byte)).join("");
  assert.equal(
    text,
    "GET / HTTP/1.1\r\nHost: x\r\nX-Name: caf\xc3\xa9\r\nConnection: close\r\n\r\n",
  );
});
