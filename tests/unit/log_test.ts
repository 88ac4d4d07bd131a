import assert from "node:assert/strict";
import { configureLogs, log } from "../../functions/_shared/log.ts";

function captured(work: () => void): string[] {
  const lines: string[] = [];
  const original = console.log;
  console.log = (line: string) => lines.push(line);
  try {
    work();
  } finally {
    console.log = original;
  }
  return lines;
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
