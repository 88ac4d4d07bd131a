import assert from "node:assert/strict";
import {
  asAdminKey,
  call,
  createKey,
  errorOf,
  issueKey,
  signUp,
  verifyKey,
  withDatabase,
} from "../../support/http.ts";

Deno.test("usage history counts valid, rate-limited and rejected verifications per hour", async () => {
  const owner = await signUp("usage");
  const issued = await issueKey(owner.id, { rateLimitPerMinute: 3 });
  const codes = [];
  for (let i = 0; i < 5; i++) codes.push((await verifyKey(issued.key)).body.code);
  assert.deepEqual(codes, ["VALID", "VALID", "VALID", "RATE_LIMITED", "RATE_LIMITED"]);
  await asAdminKey("PATCH", `/admin/keys/${issued.id}`, { body: { enabled: false } });
  assert.equal((await verifyKey(issued.key)).body.code, "DISABLED");

  const usage = await call("GET", `/keys/${issued.id}/usage`, { token: owner.token });
  assert.equal(usage.status, 200);
  assert.equal(usage.body.granularity, "hour");
  assert.ok(usage.body.buckets.length >= 24 && usage.body.buckets.length <= 25);
  const hour = new Date();
  hour.setUTCMinutes(0, 0, 0);
  const current = usage.body.buckets.at(-1);
  assert.equal(current.start, hour.toISOString().replace(".000Z", "Z"));
  assert.deepEqual(
    { valid: current.valid, rateLimited: current.rateLimited, rejected: current.rejected },
    { valid: 3, rateLimited: 2, rejected: 1 },
  );
  assert.ok(
    usage.body.buckets.slice(0, -1).every((bucket: { valid: number }) => bucket.valid === 0),
  );

  const daily = await asAdminKey("GET", `/admin/keys/${issued.id}/usage?granularity=day`);
  assert.equal(daily.status, 200);
  assert.ok(daily.body.buckets.length >= 30 && daily.body.buckets.length <= 31);
  assert.equal(daily.body.buckets.at(-1).valid, 3);
});

Deno.test("usage: a bad range is a 400, another user's key a 404", async () => {
  const owner = await signUp("usage-range");
  const stranger = await signUp("usage-stranger");
  const created = await createKey(owner.token);
  const now = new Date().toISOString();
  for (
    const query of [
      `since=${now}&until=${now}`,
      "since=2020-01-01T00:00:00Z&granularity=hour",
      "granularity=minute",
      "since=yesterday",
    ]
  ) {
    const refused = await call("GET", `/keys/${created.id}/usage?${query}`, { token: owner.token });
    assert.equal(refused.status, 400, query);
    errorOf(refused);
  }
  const foreign = await call("GET", `/keys/${created.id}/usage`, { token: stranger.token });
  assert.equal(foreign.status, 404);
  // The usage rows themselves follow the key's policy: the stranger reads none in SQL either.
  await verifyKey(created.key);
  const visible = await withDatabase((sql) =>
    sql.begin(async (tx) => {
      await tx`set local role latchkey_caller`;
      await tx`select set_config('latchkey.caller', ${
        JSON.stringify({ sub: stranger.id, app_role: "user", principal_kind: "session" })
      }, true)`;
      const [row] = await tx`select
          (select count(*)::int from latchkey.api_key_usage where key_id = ${created.id})
          + (select count(*)::int from latchkey.api_key_meters where key_id = ${created.id})
          as n`;
      return row.n;
    })
  );
  assert.equal(visible, 0);
});

Deno.test("GET /admin/keys?unusedForDays=N lists active keys nobody used for N days", async () => {
  const owner = await signUp("stale-keys");
  const stale = await createKey(owner.token, { name: "stale" });
  const fresh = await createKey(owner.token, { name: "fresh" });
  const staleRevoked = await createKey(owner.token, { name: "stale but revoked" });
  await verifyKey(fresh.key);
  await withDatabase((sql) =>
    sql`update latchkey.api_keys
        set created_at = now() - interval '90 days', last_used_at = now() - interval '40 days'
        where id in ${sql([stale.id, staleRevoked.id])}`
  );
  await call("DELETE", `/keys/${staleRevoked.id}`, { token: owner.token });
  const listed = await asAdminKey("GET", `/admin/keys?userId=${owner.id}&unusedForDays=30`);
  assert.equal(listed.status, 200);
  assert.deepEqual(listed.body.keys.map((key: { id: string }) => key.id), [stale.id]);
  const longer = await asAdminKey("GET", `/admin/keys?userId=${owner.id}&unusedForDays=60`);
  assert.deepEqual(longer.body.keys, []);
  const bad = await asAdminKey("GET", "/admin/keys?unusedForDays=0");
  assert.equal(bad.status, 400);
});

Deno.test("when the hour turns, the key's counts move to the history once, and still show", async () => {
  const owner = await signUp("usage-rollover");
  const created = await createKey(owner.token);
  for (let i = 0; i < 3; i++) await verifyKey(created.key);
  // As if those three had been two hours ago: the meter row still holds that hour.
  await withDatabase((sql) =>
    sql`update latchkey.api_key_meters set hour = hour - interval '2 hours'
        where key_id = ${created.id}`
  );
  const before = await call("GET", `/keys/${created.id}/usage`, { token: owner.token });
  assert.equal(before.body.buckets.at(-3).valid, 3, "read from the meter before the turn");
  await Promise.all(Array.from({ length: 5 }, () => verifyKey(created.key)));
  const history = await withDatabase((sql) =>
    sql`select valid, rate_limited, rejected from latchkey.api_key_usage
        where key_id = ${created.id}`
  );
  assert.deepEqual(
    [...history],
    [{ valid: 3, rate_limited: 0, rejected: 0 }],
    "saved exactly once",
  );
  const after = await call("GET", `/keys/${created.id}/usage`, { token: owner.token });
  assert.equal(after.body.buckets.at(-3).valid, 3);
  assert.equal(after.body.buckets.at(-1).valid, 5);
  assert.equal(
    after.body.buckets.reduce((sum: number, bucket: { valid: number }) => sum + bucket.valid, 0),
    8,
  );
});
