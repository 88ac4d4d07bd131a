import assert from "node:assert/strict";
import { configureLogs, flushLogs, log } from "../../functions/_shared/config/log.ts";

/** The lines `work` logs: buffered lines leave through stdout when flushed. */
function captured(work: () => void): string[] {
  let written = "";
  const stdout = Deno.stdout as { writeSync(bytes: Uint8Array): number };
  const original = stdout.writeSync;
  stdout.writeSync = (bytes: Uint8Array) => {
    written += new TextDecoder().decode(bytes);
    return bytes.length;
  };
  try {
    work();
    flushLogs();
  } finally {
    stdout.writeSync = original;
  }
  return written.split("\n").filter(Boolean);
}

const request = {
  requestId: "4cd0f110-baab-4f62-b107-11dbf6e096c0",
  method: "GET",
  path: "/auth/session",
  status: 200,
  durationMs: 1.25,
  principal: { kind: "session", id: "919fd8b2-509a-4036-8cb4-382e548ce419" },
};

Deno.test("log lines are one JSON object each, or short and readable when pretty", () => {
  try {
    configureLogs({ LATCHKEY_LOG_LEVEL: "info", LATCHKEY_LOG_FORMAT: "json" });
    const [json] = captured(() => log("info", "request", request));
    const parsed = JSON.parse(json);
    assert.equal(parsed.event, "request");
    assert.equal(parsed.status, 200);
    assert.equal(parsed.principal.kind, "session");

    configureLogs({ LATCHKEY_LOG_LEVEL: "info", LATCHKEY_LOG_FORMAT: "pretty" });
    const [pretty] = captured(() => log("info", "request", request));
    assert.match(
      pretty,
      /^\d\d:\d\d:\d\d INFO {2}request GET \/auth\/session 200 1\.25ms session:919fd8b2 \[4cd0f110\]$/,
    );

    configureLogs({ LATCHKEY_LOG_LEVEL: "warn", LATCHKEY_LOG_FORMAT: "json" });
    assert.deepEqual(captured(() => log("info", "request", request)), []);
  } finally {
    configureLogs({ LATCHKEY_LOG_LEVEL: "info", LATCHKEY_LOG_FORMAT: "json" });
  }
});

Deno.test("log lines are batched: nothing written until the flush, then every line in order", () => {
  let writes = 0;
  let written = "";
  const stdout = Deno.stdout as { writeSync(bytes: Uint8Array): number };
  const original = stdout.writeSync;
  stdout.writeSync = (bytes: Uint8Array) => {
    writes += 1;
    written += new TextDecoder().decode(bytes);
    return bytes.length;
  };
  try {
    configureLogs({ LATCHKEY_LOG_LEVEL: "info", LATCHKEY_LOG_FORMAT: "json" });
    for (let i = 0; i < 100; i++) log("info", "request", { ...request, status: 200 + (i % 3) });
    assert.equal(writes, 0, "buffered");
    flushLogs();
    assert.equal(writes, 1, "one write for the batch");
    const lines = written.split("\n").filter(Boolean).map((line) => JSON.parse(line));
    assert.equal(lines.length, 100);
    assert.deepEqual(lines.slice(0, 3).map((line) => line.status), [200, 201, 202]);
  } finally {
    stdout.writeSync = original;
  }
});
