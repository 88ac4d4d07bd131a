import assert from "node:assert/strict";
import postgres from "postgres";
import {
  asAdminKey,
  call,
  createKey,
  defaultPassword,
  issueKey,
  minutesTouched,
  signUp,
  uniqueEmail,
  verifyKey,
  withDatabase,
} from "../support/http.ts";

/**
 * Races, with many requests in flight at once, on both Deno lines (postgres.js's crash under
 * this much concurrency on Deno 2.1 is worked around: functions/_shared/db/deno_timers.ts).
 */

async function exactlyLimit(limit: number, parallel: number) {
  const owner = await signUp("rate-exact");
  const created = await createKey(owner.token, { name: "exact", rateLimitPerMinute: limit });
  const started = performance.now();
  const [results, minutes] = await minutesTouched(() =>
    Promise.all(Array.from({ length: parallel }, () => verifyKey(created.key)))
  );
  const seconds = (performance.now() - started) / 1000;
  const ok = results.filter((result) => result.status === 200);
  const limited = results.filter((result) => result.status === 429);
  assert.equal(ok.length + limited.length, parallel);
  assert.ok(ok.every((result) => result.body.code === "VALID"));
  const remaining = ok.map((result) => result.body.rateLimit.remaining).sort((a, b) => a - b);
  // The limiter (GCRA) gives a request back every 60/L seconds: a burst that lasts longer, as on
  // a busy machine, may pass that many more, never more (the bound rate_limit_clock_test checks).
  // Within one interval the count is exact and each success counts once.
  if (seconds < 60 / limit) {
    assert.equal(ok.length, limit);
    assert.deepEqual(remaining, Array.from({ length: limit }, (_, i) => i), "each count once");
  } else {
    const bound = limit + Math.ceil((limit * seconds) / 60);
    assert.ok(
      ok.length >= limit && ok.length <= bound,
      `${ok.length} passed in ${seconds.toFixed(1)} s: between ${limit} and ${bound}`,
    );
    assert.ok(remaining.every((left) => left >= 0 && left < limit));
  }
  assert.ok(limited.every((result) => result.headers.get("retry-after")));
  const [{ count }] = await withDatabase((sql) =>
    sql`select count(*)::int as count from latchkey.audit_events
        where action = 'api_key.rate_limited' and target_id = ${created.id}`
  );
  assert.ok(count >= 1 && count <= minutes, `audited once a minute: ${count} in ${minutes}`);
}

Deno.test("with limit L, N > L parallel requests in one window give exactly L successes", async () => {
  await exactlyLimit(25, 80);
});

Deno.test("rate-limit exactness holds at 200 parallel requests", async () => {
  await exactlyLimit(70, 200);
});

Deno.test("50 parallel sign-ups with one email create exactly one account", async () => {
  const email = uniqueEmail("signup-race");
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      call("POST", "/auth/sign-up/email", {
        body: {
          name: `Racer ${i}`,
          email: i % 2 ? email : email.toUpperCase(),
          password: defaultPassword,
        },
      })),
  );
  assert.equal(results.filter((result) => result.status === 200).length, 1);
  // The rest: the email is taken, or (past LATCHKEY_HASH_QUEUE_MAX waiting hashes) come back
  // later; never anything else.
  const others = results.filter((result) => result.status !== 200);
  for (const result of others) {
    const expected = result.status === 503
      ? { status: 503, code: "overloaded" }
      : { status: 409, code: "email_unavailable" };
    assert.deepEqual({ status: result.status, code: result.body.error.code }, expected);
    if (result.status === 503) assert.ok(Number(result.headers.get("retry-after")) >= 1);
  }
  const [{ count }] = await withDatabase((sql) =>
    sql`select count(*)::int as count from latchkey.users where lower(email) = lower(${email})`
  );
  assert.equal(count, 1);
});

Deno.test("no request succeeds with a key after its revocation commits", async () => {
  const owner = await signUp("revoke-race");
  const created = await issueKey(owner.id, { name: "racy", rateLimitPerMinute: 100000 });
  let revokedAt = Infinity;
  const uses: { status: number; startedAt: number }[] = [];
  let stop = false;
  const users = Array.from({ length: 8 }, async () => {
    while (!stop) {
      const startedAt = performance.now();
      const result = await call("GET", "/keys", { token: created.key });
      uses.push({ status: result.status, startedAt });
    }
  });
  await new Promise((resolve) => setTimeout(resolve, 150));
  const revoke = await call("DELETE", `/keys/${created.id}`, { token: owner.token });
  revokedAt = performance.now();
  assert.equal(revoke.status, 200);
  await new Promise((resolve) => setTimeout(resolve, 150));
  stop = true;
  await Promise.all(users);
  const after = uses.filter((use) => use.startedAt > revokedAt);
  assert.ok(after.length > 0, "requests were made after the revocation");
  assert.ok(after.every((use) => use.status === 401), JSON.stringify(after.map((u) => u.status)));
  assert.ok(uses.some((use) => use.status === 200), "and before it, the key worked");
});

Deno.test("concurrent duplicates with one Idempotency-Key create exactly one resource", async () => {
  const key = crypto.randomUUID();
  const email = uniqueEmail("idem-race");
  const results = await Promise.all(
    Array.from({ length: 20 }, () =>
      asAdminKey("POST", "/admin/users", {
        body: { email, name: "Race", serviceAccount: true },
        headers: { "idempotency-key": key },
      })),
  );
  assert.ok(
    results.every((result) => result.status === 201),
    JSON.stringify(results.map((r) => r.status)),
  );
  assert.equal(new Set(results.map((result) => result.body.user.id)).size, 1);
  assert.equal(results.filter((result) => !result.headers.get("idempotency-replayed")).length, 1);
  const [{ count }] = await withDatabase((sql) =>
    sql`select count(*)::int as count from latchkey.users where lower(email) = lower(${email})`
  );
  assert.equal(count, 1);
});

Deno.test("a client allowance taken by 8 transactions at once passes exactly its limit", async () => {
  // Eight connections, each holding its transaction open a moment after taking, as
  // forgot-password's mail does: without a lock they all read the budget unspent.
  const sql = postgres(Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!, {
    max: 8,
    prepare: false,
    onnotice: () => {},
  });
  const subject = `allowance-race-${crypto.randomUUID()}`;
  const limit = 3;
  try {
    const answers = await Promise.all(Array.from({ length: 8 }, () =>
      sql.begin(async (tx) => {
        const [{ retry_after }] = await tx<{ retry_after: number }[]>`
          select latchkey.take_client_allowance('race_test', ${subject}, ${limit},
            '1 hour') as retry_after`;
        await tx`select pg_sleep(0.05)`;
        return retry_after;
      })));
    assert.equal(answers.filter((retryAfter) => retryAfter === 0).length, limit, `${answers}`);
  } finally {
    await sql.end();
  }
});
