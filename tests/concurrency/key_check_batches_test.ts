import assert from "node:assert/strict";
import postgres from "postgres";
import { sha256Hex } from "../../functions/_shared/ground/crypto.ts";
import { keyCheckStats } from "../../functions/_shared/keys/key_check_batches.ts";
import { getRuntime } from "../../functions/_shared/api/isolate.ts";
import { serveFunctions } from "../support/in_process.ts";
import { issueKey, signUp, withDatabase } from "../support/http.ts";

Deno.test("coalesced key checks: one statement for many, each caller its own answer, limits exact", async () => {
  const owner = await signUp("batches");
  const limited = await issueKey(owner.id, { rateLimitPerMinute: 10 });
  const credited = await issueKey(owner.id, { remaining: 7, rateLimitPerMinute: 100_000 });
  const open = await issueKey(owner.id, { rateLimitPerMinute: 100_000 });
  const revoked = await issueKey(owner.id, { rateLimitPerMinute: 100_000 });
  await withDatabase((sql) =>
    sql`update latchkey.api_keys set revoked_at = now() where id = ${revoked.id}`
  );
  // One connection: every check that arrives while one runs waits and joins the next batch.
  const functions = serveFunctions({ LATCHKEY_ENV: "test", LATCHKEY_DB_POOL_MAX: "1" });
  try {
    const keys = [limited, credited, open, revoked];
    const requests = Array.from({ length: 200 }, (_, index) => keys[index % keys.length]);
    const answers = await Promise.all(
      requests.map((key) => functions.call("POST", "/keys/verify", {}, { key: key.key })),
    );
    const codesOf = (id: string) =>
      answers.filter((answer) => answer.body.keyId === id).map((answer) => answer.body.code);
    assert.ok(answers.every((answer, index) => answer.body.keyId === requests[index].id));
    const limitedCodes = codesOf(limited.id);
    assert.equal(limitedCodes.filter((code) => code === "VALID").length, 10);
    assert.equal(limitedCodes.filter((code) => code === "RATE_LIMITED").length, 40);
    const creditCodes = codesOf(credited.id);
    assert.equal(creditCodes.filter((code) => code === "VALID").length, 7);
    assert.equal(creditCodes.filter((code) => code === "USAGE_EXCEEDED").length, 43);
    assert.deepEqual(new Set(codesOf(open.id)), new Set(["VALID"]));
    assert.deepEqual(new Set(codesOf(revoked.id)), new Set(["REVOKED"]));

    const stats = keyCheckStats(getRuntime().sql)!;
    assert.equal(stats.checks, 200);
    assert.ok(stats.statements < 100, `${stats.statements} statements for 200 checks`);
    assert.ok(stats.largestBatch > 1);
  } finally {
    await functions.close();
  }
});

Deno.test("key checks hold at most LATCHKEY_KEY_CHECK_LANES connections; the rest of the pool is free", async () => {
  const owner = await signUp("lanes");
  const keys = await Promise.all(
    Array.from({ length: 16 }, () => issueKey(owner.id, { rateLimitPerMinute: 100_000 })),
  );
  for (const [lanes, expected] of [[undefined, 2], ["3", 3], ["50", 6]] as const) {
    const functions = serveFunctions({
      LATCHKEY_ENV: "test",
      LATCHKEY_DB_POOL_MAX: "6",
      ...(lanes ? { LATCHKEY_KEY_CHECK_LANES: lanes } : {}),
    });
    try {
      // 160 checks of 16 keys at once: never more statements in flight than lanes.
      const checks = Promise.all(
        Array.from(
          { length: 160 },
          (_, index) =>
            functions.call("POST", "/keys/verify", {}, { key: keys[index % keys.length].key }),
        ),
      );
      const answers = await checks;
      assert.ok(answers.every((answer) => answer.body.code === "VALID"));
      const stats = keyCheckStats(getRuntime().sql)!;
      assert.equal(stats.lanes, expected, `lanes for LATCHKEY_KEY_CHECK_LANES=${lanes}`);
      assert.ok(
        stats.mostInFlight <= expected,
        `${stats.mostInFlight} statements in flight with ${expected} lanes`,
      );
      assert.ok(stats.statements < 160, `${stats.statements} statements for 160 checks`);
    } finally {
      await functions.close();
    }
  }
});

Deno.test("batches from two isolates over the same keys queue on each other, never deadlock", async () => {
  const owner = await signUp("lock-order");
  const keys = await Promise.all(
    Array.from({ length: 24 }, () => issueKey(owner.id, { rateLimitPerMinute: 100_000 })),
  );
  const checks = keys.map(({ key }) => ({ hash: sha256Hex(key), request: {} }));
  // Two connections as two isolates' lanes, each sending its own batches of the same keys in
  // opposite arrival orders: checked in arrival order, each would hold what the other wants.
  const url = Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!;
  const isolates = [postgres(url, { max: 1, onnotice: () => {} }), postgres(url, { max: 1 })];
  try {
    for (let round = 0; round < 15; round++) {
      const started = performance.now();
      const answers = await Promise.all(isolates.map((sql, index) => {
        const batch = index === 0 ? checks : [...checks].reverse();
        return sql<{ ordinality: string; code: string; key_id: string }[]>`
          select ordinality, code, key_id from latchkey.check_api_keys(${sql.json(batch)})`;
      }));
      // PostgreSQL's deadlock check runs after deadlock_timeout (1 s): a wait that long means one.
      assert.ok(performance.now() - started < 900, `round ${round} took a deadlock check`);
      for (const [index, rows] of answers.entries()) {
        const sent = index === 0 ? keys : [...keys].reverse();
        const byPlace = rows.toSorted((a, b) => Number(a.ordinality) - Number(b.ordinality));
        assert.deepEqual(byPlace.map((row) => row.key_id), sent.map((key) => key.id));
        assert.ok(rows.every((row) => row.code === "VALID"));
      }
    }
  } finally {
    await Promise.all(isolates.map((sql) => sql.end()));
  }
});

Deno.test("a batch whose earlier check wrote an audit event commits with the WAL flush", async () => {
  const owner = await signUp("durable-audit");
  const revoked = await issueKey(owner.id, { rateLimitPerMinute: 100_000 });
  await withDatabase((sql) =>
    sql`update latchkey.api_keys set revoked_at = now() where id = ${revoked.id}`
  );
  // A batch checks in hash order: the valid key must come after the audited rejection.
  let valid = await issueKey(owner.id, { rateLimitPerMinute: 100_000 });
  while (sha256Hex(valid.key) < sha256Hex(revoked.key)) {
    valid = await issueKey(owner.id, { rateLimitPerMinute: 100_000 });
  }
  const checks = [valid, revoked].map((key) => ({ hash: sha256Hex(key.key), request: {} }));
  const { codes, setting, audited } = await withDatabase((sql) =>
    sql.begin(async (tx) => {
      const rows = await tx<{ code: string }[]>`
        select code from latchkey.check_api_keys(${tx.json(checks)})`;
      const [{ setting }] = await tx<{ setting: string }[]>`
        select current_setting('synchronous_commit') as setting`;
      const [{ audited }] = await tx<{ audited: number }[]>`
        select count(*)::int as audited from latchkey.audit_events
        where action = 'api_key.rejected' and target_id = ${revoked.id}`;
      return { codes: rows.map((row) => row.code), setting, audited };
    })
  );
  assert.deepEqual(codes.sort(), ["REVOKED", "VALID"]);
  assert.equal(audited, 1, "the rejection is audited");
  assert.equal(setting, "on", "so the batch's commit waits for its WAL flush");
});
