import assert from "node:assert/strict";
import {
  call,
  createKey,
  minutesTouched,
  signIn,
  signUp,
  testClient,
  verifyKey,
  withDatabase,
} from "../../support/http.ts";

/**
 * A flood of one refusal writes one audit row a minute, not one a request: a revoked key
 * hammered, and sign-ins at an email that is throttled. The repeats are counted, and the next
 * minute's row says how many there were.
 */

async function auditRows(action: string, targetId: string) {
  return await withDatabase((sql) =>
    sql<{ metadata: Record<string, unknown> }[]>`
      select metadata from latchkey.audit_events
      where action = ${action} and target_id = ${targetId} order by created_at`
  );
}

Deno.test("a revoked key flooded for a minute writes one audit row, and counts the rest", async () => {
  const owner = await signUp("flood-revoked");
  const created = await createKey(owner.token, { name: "to revoke" });
  const revoked = await call("DELETE", `/keys/${created.id}`, { token: owner.token });
  assert.equal(revoked.status, 200);
  const [answers, minutes] = await minutesTouched(() =>
    Promise.all(Array.from({ length: 60 }, () => verifyKey(created.key)))
  );
  assert.ok(answers.every((answer) => answer.body.code === "REVOKED"));
  const rows = await auditRows("api_key.rejected", created.id);
  assert.ok(rows.length >= 1 && rows.length <= minutes, `${rows.length} rows, ${minutes} minutes`);
  assert.deepEqual(rows[0].metadata, { reason: "REVOKED", repeatsInPreviousMinute: 0 });
  const [{ repeats }] = await withDatabase((sql) =>
    sql<{ repeats: number }[]>`
      select repeats from latchkey.audit_repeats
      where subject = ${"api_key.rejected:" + created.id}`
  );
  // Every refusal is accounted for: audited, counted in a later row, or counted now.
  const carried = rows.reduce((sum, row) => sum + Number(row.metadata.repeatsInPreviousMinute), 0);
  assert.equal(rows.length + carried + repeats, 60, "every refusal is audited or counted");
});

Deno.test("sign-ins at a throttled email write one audit row a minute, wrong passwords each", async () => {
  const account = await signUp("flood-throttled");
  const guesser = testClient();
  const statuses: number[] = [];
  for (let attempt = 0; attempt < 10; attempt++) {
    statuses.push((await signIn(account.email, `wrong password ${attempt}`, guesser)).status);
  }
  const [throttled, minutes] = await minutesTouched(() =>
    Promise.all(Array.from({ length: 30 }, () => signIn(account.email, "still guessing", guesser)))
  );
  assert.deepEqual(statuses, Array(10).fill(401));
  assert.ok(throttled.every((answer) => answer.status === 429));
  const rows = await auditRows("auth.sign_in_failed", account.id);
  const reasons = rows.map((row) => row.metadata.reason);
  assert.equal(reasons.filter((reason) => reason === "wrong_password").length, 10);
  const throttledRows = rows.filter((row) => row.metadata.reason === "throttled");
  assert.ok(throttledRows.length >= 1 && throttledRows.length <= minutes, `${minutes} minutes`);
  assert.deepEqual(throttledRows[0].metadata, { reason: "throttled", repeatsInPreviousMinute: 0 });
});
