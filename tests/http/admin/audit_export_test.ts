import assert from "node:assert/strict";
import {
  asAdminKey,
  call,
  createAccount,
  createKey,
  recordSecret,
  signUp,
  withDatabase,
} from "../../support/http.ts";
import { serveFunctions } from "../../support/in_process.ts";
import { rssMb, startTestServer } from "../../support/server.ts";

/**
 * GET /admin/audit/export streams a time range as NDJSON with constant memory: 100,000 events
 * through a gateway of the test's own, its RSS sampled while the stream is read.
 */

const since = "2019-03-01T00:00:00.000Z";
const until = "2019-03-02T00:00:00.000Z";
const events = 100_000;
// V8's old generation, capped below what holding the export would take: a server that
// collected the lines before writing them died at this cap ("Ineffective mark-compacts near
// heap limit"), so an export that buffers, or keeps what it sent, fails here.
const oldSpaceMb = 64;
// What V8 keeps after its full collections during both exports; the rest of the server lives
// in about 17 MB.
const liveHeapMb = 32;

/** The live heap after each of V8's full collections, from the server's --trace-gc lines. */
function liveHeapAfterFullGcs(log: string): number[] {
  return [...log.matchAll(/Mark-Compact [\d.]+ \([\d.]+\) -> ([\d.]+) \(/g)].map((m) =>
    Number(m[1])
  );
}

Deno.test("the export streams 100,000 events oldest first, in the range, with flat memory", async () => {
  await withDatabase((sql) =>
    sql`
      insert into latchkey.audit_events (actor_kind, action, target_kind, request_id,
        ip_address, metadata, created_at)
      select 'system', 'export.fixture', 'user', 'export-' || g, '192.0.2.' || (g % 250),
        jsonb_build_object('n', g, 'padding', repeat('x', 120)),
        ${since}::timestamptz + g * interval '0.8 second'
      from generate_series(0, ${events - 1}) g`
  );
  const adminKey = `export-admin-key-${crypto.randomUUID()}`;
  const server = await startTestServer(Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!, {
    LATCHKEY_ADMIN_KEY: adminKey,
    LATCHKEY_LOG_LEVEL: "warn",
  }, [`--v8-flags=--max-old-space-size=${oldSpaceMb},--trace-gc`]);
  try {
    const exportUrl = (to: string) =>
      `${server.baseUrl}/functions/v1/admin/audit/export?since=${since}&until=${to}`;
    // Warm the route up so the baseline is the server at work, not the server at rest.
    await (await fetch(exportUrl("2019-03-01T00:00:01.000Z"), {
      headers: { "x-admin-key": adminKey },
    })).arrayBuffer();
    const baseline = rssMb(server.pid);
    const gcBefore = liveHeapAfterFullGcs(await Deno.readTextFile(server.logPath)).length;

    /** Reads one export slowly, checking every line; returns its lines and the peak RSS. */
    const readExport = async (to: string) => {
      let peak = rssMb(server.pid);
      const sampler = setInterval(() => peak = Math.max(peak, rssMb(server.pid)), 20);
      try {
        const response = await fetch(exportUrl(to), { headers: { "x-admin-key": adminKey } });
        assert.equal(response.status, 200);
        assert.match(response.headers.get("content-type")!, /^application\/x-ndjson/);
        let lines = 0;
        let previous = "";
        let rest = "";
        const decoder = new TextDecoder();
        for await (const chunk of response.body!) {
          const parts = (rest + decoder.decode(chunk, { stream: true })).split("\n");
          rest = parts.pop()!;
          for (const line of parts) {
            const event = JSON.parse(line);
            assert.ok(event.createdAt >= previous, "oldest first");
            assert.ok(event.createdAt >= since && event.createdAt < to);
            previous = event.createdAt;
            lines += 1;
          }
          // A slow reader: the server must wait for it rather than buffer.
          if (lines % 20_000 < 500) await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.equal(rest, "", "ends with a newline");
        return { lines, peak };
      } finally {
        clearInterval(sampler);
      }
    };

    // All the events twice: a second export as large finds the heap where the first left it.
    const first = await readExport(until);
    const second = await readExport(until);
    assert.equal(first.lines, events);
    assert.equal(second.lines, events);
    const live = liveHeapAfterFullGcs(await Deno.readTextFile(server.logPath)).slice(gcBefore);
    console.log(
      `export of ${events} events twice: live heap after ${live.length} full GCs at most ${
        Math.max(...live).toFixed(1)
      } MB; RSS from ${baseline.toFixed(0)} MB: peak ${first.peak.toFixed(0)} MB, then ${
        second.peak.toFixed(0)
      } MB`,
    );
    assert.ok(live.length > 0, "V8 collected in full during the exports");
    assert.ok(Math.max(...live) < liveHeapMb, `live heap ${Math.max(...live)} MB`);
    // RSS also holds V8's young generation, grown to its semi-spaces (deno task start: 3 x 16
    // MB) by the export's garbage, and the allocator's arenas: bounded loosely, it still
    // catches memory outside V8's heap that grows with the export.
    assert.ok(first.peak - baseline < 96, `RSS grew ${(first.peak - baseline).toFixed(1)} MB`);
    assert.ok(
      second.peak - first.peak < 24,
      `the second export grew RSS by ${(second.peak - first.peak).toFixed(1)} MB more`,
    );
  } finally {
    await server.stop();
  }
  const [{ exports }] = await withDatabase((sql) =>
    sql<{ exports: number }[]>`
      select count(*)::int as exports from latchkey.audit_events
      where action = 'audit.exported' and metadata ->> 'since' = ${since}`
  );
  assert.ok(exports >= 2, "each export is audited");
});

Deno.test("unread exports cannot take the pool: bounded per caller and per isolate, ended when idle", async () => {
  const adminKey = `export-bound-key-${crypto.randomUUID()}`;
  recordSecret(adminKey);
  const served = serveFunctions({
    LATCHKEY_ADMIN_KEY: adminKey,
    LATCHKEY_DB_POOL_MAX: "4",
    LATCHKEY_AUDIT_EXPORTS_MAX: "2",
    LATCHKEY_AUDIT_EXPORT_IDLE_SECONDS: "4",
  });
  const [first, second] = [await createAccount("admin"), await createAccount("admin")];
  // An export needs a step-up: createAccount verified a factor just now.
  const user = await signUp("export-bystander");
  const { key } = await createKey(user.token);
  const started: Response[] = [];
  const open = async (headers: Record<string, string>) => {
    // The 100,000 events of the first test, never read: each export stalls on its client.
    const response = await fetch(
      `${served.base}/admin/audit/export?since=${since}&until=${until}`,
      { headers },
    );
    if (response.status === 200) started.push(response);
    else await response.body?.cancel();
    return response.status;
  };
  try {
    const byKey = { "x-admin-key": adminKey };
    assert.equal(await open(byKey), 200);
    assert.equal(await open(byKey), 429, "one export per caller at a time");
    assert.equal(await open({ authorization: `Bearer ${first.token}` }), 200);
    const third = { authorization: `Bearer ${second.token}` };
    const refusals = await Promise.all(Array.from({ length: 10 }, () => open(third)));
    assert.deepEqual(refusals, Array(10).fill(429), "at most LATCHKEY_AUDIT_EXPORTS_MAX at once");

    // The hot path and health still have connections: answered well before an export could
    // have ended for idleness and given its connection back (4 s).
    for (let i = 0; i < 5; i++) {
      const began = performance.now();
      assert.equal((await served.call("GET", "/version/health")).status, 200);
      const verified = await served.call("POST", "/keys/verify", {}, { key });
      assert.equal(verified.body.code, "VALID");
      const ms = performance.now() - began;
      assert.ok(ms < 2000, `answered in ${ms.toFixed(0)} ms, not after an export's end`);
    }

    // Unread for LATCHKEY_AUDIT_EXPORT_IDLE_SECONDS, the exports end and free their slots.
    let status = 429;
    const deadline = Date.now() + 15_000;
    while (status !== 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      status = await open(third);
    }
    assert.equal(status, 200, "an idle export was ended and its slot given back");
  } finally {
    await Promise.all(started.map((response) => response.body?.cancel().catch(() => {})));
    await served.close();
  }
});

Deno.test("the export needs audit:read and a since, and refuses bad times", async () => {
  const user = await signUp("export-refused");
  const refused = await call("GET", `/admin/audit/export?since=${since}`, { token: user.token });
  assert.equal(refused.status, 403);
  for (
    const query of ["", "?since=yesterday", `?since=${since}&until=soon`, `?since=${since}&x=1`]
  ) {
    const bad = await asAdminKey("GET", `/admin/audit/export${query}`);
    assert.equal(bad.status, 400, query);
    assert.equal(bad.body.error.code, "validation_failed");
  }
});
