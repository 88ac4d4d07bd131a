import assert from "node:assert/strict";
import {
  call,
  createKey,
  signIn,
  signUp,
  testClient,
  verifyKey,
  waitForFreshMinute,
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
  await waitForFreshMinute(15);
  const answers = await Promise.all(Array.from({ length: 60 }, () => verifyKey(created.key)));
  assert.ok(answers.every((answer) => answer.body.code === "REVOKED"));
  const rows = await auditRows("api_key.rejected", created.id);
  assert.equal(rows.length, 1, "one row for the minute");
  assert.deepEqual(rows[0].metadata, { reason: "REVOKED", repeatsInPreviousMinute: 0 });
  const [{ repeats }] = await withDatabase((sql) =>
    sql<{ repeats: number }[]>`
      select repeats from latchkey.audit_repeats
      where subject = ${"api_key.rejected:" + created.id}`
  );
  assert.equal(repeats, 59, "every other refusal is counted");
});

Deno.test("sign-ins at a throttled email write one audit row a minute, wrong passwords each", async () => {
  const account = await signUp("flood-throttled");
  const guesser = testClient();
  await waitForFreshMinute(20);
  const statuses: number[] = [];
  for (let attempt = 0; attempt < 10; attempt++) {
    statuses.push((await signIn(account.email, `wrong password ${attempt}`, guesser)).status);
  }
  const throttled = await Promise.all(
    Array.from({ length: 30 }, () => signIn(account.email, "still guessing", guesser)),
  );
  assert.deepEqual(statuses, Array(10).fill(401));
  assert.ok(throttled.every((answer) => answer.status === 429));
  const rows = await auditRows("auth.sign_in_failed", account.id);
  const reasons = rows.map((row) => row.metadata.reason);
  assert.equal(reasons.filter((reason) => reason === "wrong_password").length, 10);
  assert.deepEqual(
    rows.filter((row) => row.metadata.reason === "throttled").map((row) => row.metadata),
    [{ reason: "throttled", repeatsInPreviousMinute: 0 }],
  );
});
