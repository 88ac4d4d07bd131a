import assert from "node:assert/strict";
import { call, createKey, functionsUrl, signUp } from "../support/http.ts";

// The gateway's own log, as it wrote it during this run (tests/run.ts passes the path).
const serverLog = Deno.env.get("LATCHKEY_TEST_SERVER_LOG");

async function logLineFor(requestId: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const line = (await Deno.readTextFile(serverLog!)).split("\n")
      .find((text) => text.includes(`"requestId":"${requestId}"`));
    if (line) return JSON.parse(line);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no log line for request ${requestId}`);
}

Deno.test({
  name: "each request is one JSON log line: route template, status, duration, principal, no secret",
  ignore: !serverLog,
  async fn() {
    const account = await signUp("log-line");
    const { key, id: keyId } = await createKey(account.token, { name: "log" });

    const bySession = await call("GET", `/keys/${crypto.randomUUID()}`, { token: account.token });
    assert.equal(bySession.status, 404);
    const sessionLine = await logLineFor(bySession.headers.get("x-request-id")!);
    assert.equal(sessionLine.event, "request");
    assert.equal(sessionLine.method, "GET");
    assert.equal(sessionLine.path, "/keys/:id", "the template, not the id");
    assert.equal(sessionLine.status, 404);
    assert.equal(typeof sessionLine.durationMs, "number");
    assert.deepEqual(sessionLine.principal, { kind: "session", id: account.sessionId });

    const byKey = await call("GET", "/auth/session", { headers: { "x-api-key": key } });
    assert.equal(byKey.status, 200);
    const keyLine = await logLineFor(byKey.headers.get("x-request-id")!);
    assert.deepEqual(keyLine.principal, { kind: "api_key", id: keyId });

    const anonymous = await call("GET", "/version");
    assert.equal((await logLineFor(anonymous.headers.get("x-request-id")!)).principal, null);

    const all = await Deno.readTextFile(serverLog!);
    for (const secret of [account.token, key, account.password]) {
      assert.ok(!all.includes(secret), "no token, key or password in the log");
    }
  },
});

Deno.test({
  name: "a body sent in chunks is limited like any other, and Deno logs no warning about it",
  ignore: !serverLog,
  async fn() {
    const chunked = (bytes: number) =>
      fetch(`${functionsUrl}/auth/sign-in/email`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        // A stream: sent with Transfer-Encoding: chunked, no Content-Length.
        body: new Blob([
          JSON.stringify({ email: "chunked@example.test", password: "x".repeat(bytes) }),
        ])
          .stream(),
      });
    const small = await chunked(20);
    assert.equal(small.status, 401, "read whole and answered like a sent-at-once body");
    await small.body?.cancel();
    // Just over the 64 KiB limit: the server reads nearly all of it before it answers, so the
    // client is not still writing into a closed connection (with 2 MB, Deno 2.1's fetch once got
    // EPIPE instead of the answer).
    const huge = await chunked(70_000);
    assert.equal(huge.status, 413);
    assert.equal((await huge.json()).error.code, "payload_too_large");
    const all = await Deno.readTextFile(serverLog!);
    assert.ok(!all.includes("legacy behavior"), "Deno's legacy-abort warning is not in the log");
  },
});
