import assert from "node:assert/strict";
import { keyCheckStats } from "../../functions/_shared/key_check_batches.ts";
import { getRuntime } from "../../functions/_shared/runtime.ts";
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
