import assert from "node:assert/strict";
import postgres from "postgres";
import { signUp } from "../../support/http.ts";
import { addMember, createOrg, rolesIn } from "../../support/orgs.ts";

/**
 * The race the guard exists for, made to happen every time: two owners' transactions, as the
 * API role with each owner's caller state, demote each other; the second is held on the
 * organization's row until the first commits, then counts the owners afresh and is refused.
 * (members_test.ts runs the same race over HTTP, where the timing is the machine's.)
 */

const databaseUrl = Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!;

function callerState(userId: string): string {
  return JSON.stringify({
    sub: userId,
    app_role: "user",
    principal_kind: "session",
    aal: "aal1",
    mfa_required: false,
    permissions: [],
  });
}

Deno.test("two owners demoting each other in overlapping transactions: the second is refused", async () => {
  const [first, second] = await Promise.all([signUp("guard-a"), signUp("guard-b")]);
  const orgId = await createOrg(first, "Guarded");
  await addMember(orgId, second.id, "owner");
  const [one, two, watcher] = [1, 2, 3].map(() =>
    postgres(databaseUrl, { max: 1, prepare: false, onnotice: () => {} })
  );
  try {
    let secondPid: number | undefined;
    // Resolved once the first's update returned: its guard has locked the organization's row.
    // (Polling the row's xmax is not enough: the memberships' foreign key check leaves a
    // committed share locker there, so a stale xmax would start the second too early.)
    let firstUpdated!: () => void;
    const firstHoldsTheRow = new Promise<void>((resolve) => firstUpdated = resolve);
    const demote = (sql: postgres.Sql, caller: string, target: string) =>
      sql.begin(async (tx) => {
        const [{ pid }] = await tx`select pg_backend_pid() as pid,
          set_config('role', 'latchkey_caller', true),
          set_config('latchkey.caller', ${callerState(caller)}, true)`;
        if (caller === second.id) secondPid = pid;
        const changed = await tx`
          update latchkey.org_memberships set role = 'member'
          where org_id = ${orgId} and user_id = ${target} returning user_id`;
        assert.equal(changed.length, 1, "the policy let the owner's change through");
        if (caller === first.id) firstUpdated();
        // Held open until the other transaction is seen waiting on the organization's row.
        if (caller === first.id) await waitingOnALock(watcher, () => secondPid);
      });
    const firstDemotes = demote(one, first.id, second.id);
    // The first holds the organization's row (the guard locked it); start the second.
    await Promise.race([firstHoldsTheRow, firstDemotes]);
    const secondDemotes = demote(two, second.id, first.id);
    const [won, lost] = await Promise.allSettled([firstDemotes, secondDemotes]);
    assert.equal(won.status, "fulfilled", String((won as PromiseRejectedResult).reason));
    assert.equal(lost.status, "rejected");
    const error = (lost as PromiseRejectedResult).reason as { code?: string; hint?: string };
    assert.equal(error.code, "P0001");
    assert.equal(error.hint, "last_owner");
    assert.deepEqual(await rolesIn(orgId), { [first.id]: "owner", [second.id]: "member" });
  } finally {
    await Promise.all([one.end(), two.end(), watcher.end()]);
  }
});

/** Waits until the second transaction's backend waits on a lock (the organization's row). */
async function waitingOnALock(sql: postgres.Sql, pid: () => number | undefined) {
  for (let i = 0; i < 400; i++) {
    const [row] = await sql`
      select count(*)::int as waiting from pg_catalog.pg_stat_activity
      where pid = ${pid() ?? 0} and wait_event_type = 'Lock'`;
    if (row.waiting > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error("the second transaction never waited on the organization's row");
}
