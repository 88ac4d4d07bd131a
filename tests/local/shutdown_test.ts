import assert from "node:assert/strict";
import { settlesWithin } from "../../functions/_shared/ground/settles_within.ts";
import { startTestServer, type TestServer } from "../support/server.ts";

const databaseUrl = Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!;

/** A request head promising a body that never comes: the request stays in flight. */
async function openUnfinishedRequest(baseUrl: string): Promise<Deno.TcpConn> {
  const { hostname, port } = new URL(baseUrl);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  const head = "POST /functions/v1/keys/verify HTTP/1.1\r\nHost: localhost\r\n" +
    "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{";
  await conn.write(new TextEncoder().encode(head));
  return conn;
}

/** SIGTERM, then the seconds until the process exited; a process alive after 15 s is killed. */
async function secondsToStop(server: TestServer): Promise<number> {
  const started = performance.now();
  const exited = await settlesWithin(server.stop(), 15_000);
  if (!exited) {
    Deno.kill(server.pid, "SIGKILL");
    await server.stop();
    assert.fail("the process was still running 15 s after SIGTERM");
  }
  return (performance.now() - started) / 1000;
}

Deno.test("a stop signal ends the process within the drain bound, even with a request that never finishes", async () => {
  const server = await startTestServer(databaseUrl, { LATCHKEY_LOG_LEVEL: "warn" });
  const conn = await openUnfinishedRequest(server.baseUrl);
  try {
    // Let the server take the request in before the signal.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const seconds = await secondsToStop(server);
    // 5 s for requests to finish, then the database pool's own bounded close.
    assert.ok(seconds < 9, `the process took ${seconds.toFixed(1)} s to exit`);
    assert.ok(seconds >= 4.5, `it waited ${seconds.toFixed(1)} s: the request had its 5 s`);
    const log = await Deno.readTextFile(server.logPath);
    assert.match(log, /Connections still open after 5 s; stopping anyway\./);
  } finally {
    conn.close();
  }
});

Deno.test("idle keep-alive connections do not hold the process past the drain bound", async () => {
  const server = await startTestServer(databaseUrl, { LATCHKEY_LOG_LEVEL: "warn" });
  // A client that keeps its connection after an answer, as fetch's pool does.
  const answered = await fetch(`${server.baseUrl}/functions/v1/version`);
  await answered.body?.cancel();
  const seconds = await secondsToStop(server);
  assert.ok(seconds < 9, `the process took ${seconds.toFixed(1)} s to exit`);
});
