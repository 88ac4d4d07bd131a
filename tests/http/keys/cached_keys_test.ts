import assert from "node:assert/strict";
import { generateApiKey } from "../../../functions/_shared/keys/api_key_format.ts";
import {
  asAdminKey,
  auditEventsFor,
  call,
  createKey,
  errorOf,
  issueKey,
  latchkey,
  recordSecret,
  signUp,
  validUses,
  verifyKey,
  withDatabase,
} from "../../support/http.ts";
import { createOrg, createOrgKey } from "../../support/orgs.ts";
import { serveFunctions } from "../../support/in_process.ts";

/**
 * Keys a verifier may answer from its cache (issue 31, item 3), on the server's side: who marks
 * a key cacheable and when the database refuses it, what verify answers, and the route that
 * takes the cached uses back. withLatchkey's cache itself: tests/http/with_latchkey_cache_test.ts.
 */

const patchKey = (id: string, body: Record<string, unknown>) =>
  asAdminKey("PATCH", `/admin/keys/${id}`, { body });

async function cacheSecondsOf(key: string): Promise<number | null> {
  const verified = await verifyKey(key);
  assert.equal(verified.status, 200, JSON.stringify(verified.body));
  return verified.body.cacheSeconds;
}

function refusedFor(result: { status: number; body: unknown }, path: string, pattern: RegExp) {
  assert.equal(result.status, 400, JSON.stringify(result.body));
  const error = errorOf(result as Parameters<typeof errorOf>[0]);
  const detail = error.details?.find((item) => item.path === path);
  assert.ok(detail, `no detail at ${path}: ${JSON.stringify(error)}`);
  assert.match(detail.message, pattern);
}

Deno.test("only a key with no rate limit and no credits is cached: who marks it, what verify answers, what ends it", async () => {
  const owner = await signUp("cached-owner");
  const created = await createKey(owner.token, { name: "to cache" });
  const ownPatch = (body: Record<string, unknown>) =>
    call("PATCH", `/keys/${created.id}`, { token: owner.token, body });

  // A key with a rate limit: refused with the reason, by the owner and by staff alike.
  refusedFor(await ownPatch({ cacheSeconds: 30 }), "cacheSeconds", /no rate limit/);
  refusedFor(await patchKey(created.id, { cacheSeconds: 30 }), "cacheSeconds", /no rate limit/);
  assert.equal(await cacheSecondsOf(created.key), null);
  // Lifting the limit is staff's: an owner cannot, nor may a self-service key be made without.
  assert.equal((await ownPatch({ rateLimitPerMinute: null })).status, 400);
  assert.equal(
    (await call("POST", "/keys", {
      token: owner.token,
      body: { name: "unlimited", rateLimitPerMinute: null },
    })).status,
    400,
  );

  const lifted = await patchKey(created.id, { rateLimitPerMinute: null });
  assert.equal(lifted.status, 200, JSON.stringify(lifted.body));
  assert.equal(lifted.body.rateLimitPerMinute, null);
  const unlimited = await verifyKey(created.key);
  assert.deepEqual(
    [unlimited.body.code, unlimited.body.rateLimit, unlimited.body.cacheSeconds],
    ["VALID", null, null],
    "no rate limit, not cacheable unless marked (the deployment's default is off)",
  );
  assert.equal(unlimited.headers.get("ratelimit-limit"), null);

  const marked = await ownPatch({ cacheSeconds: 30 });
  assert.equal(marked.status, 200, JSON.stringify(marked.body));
  assert.equal(marked.body.cacheSeconds, 30);
  assert.equal(await cacheSecondsOf(created.key), 30);
  const scoped = await verifyKey(created.key, "no-such-scope");
  assert.deepEqual([scoped.body.code, scoped.body.cacheSeconds], ["INSUFFICIENT_SCOPE", null]);

  // Credits added: the cache ends with them, in the database, whoever adds them.
  const credited = await patchKey(created.id, { remaining: 100 });
  assert.equal(credited.status, 200);
  assert.equal(credited.body.cacheSeconds, null);
  assert.equal(await cacheSecondsOf(created.key), null);
  // Removed again with a cache in one change; then a rate limit ends it.
  const both = await patchKey(created.id, { remaining: null, cacheSeconds: 20 });
  assert.equal(both.status, 200, JSON.stringify(both.body));
  assert.equal(await cacheSecondsOf(created.key), 20);
  refusedFor(
    await patchKey(created.id, { rateLimitPerMinute: 10, cacheSeconds: 20 }),
    "cacheSeconds",
    /no rate limit/,
  );
  assert.equal((await patchKey(created.id, { rateLimitPerMinute: 10 })).body.cacheSeconds, null);
  const limited = await verifyKey(created.key);
  assert.deepEqual([limited.body.cacheSeconds, limited.body.rateLimit.limit], [null, 10]);

  // The constraint holds whatever writes the row.
  await assert.rejects(
    withDatabase((sql) =>
      sql`update latchkey.api_keys set cache_seconds = 30 where id = ${created.id}`
    ),
    /api_keys_cached_only_unlimited/,
  );
  // And the insert policy keeps self-service keys limited, whatever the route sends.
  const { keyPrefix, keyHashHex } = generateApiKey("lk");
  await assert.rejects(
    withDatabase((sql) =>
      sql.begin(async (tx) => {
        await tx`select set_config('role', 'latchkey_caller', true),
          set_config('latchkey.caller', ${
          JSON.stringify({ sub: owner.id, app_role: "user", principal_kind: "session" })
        }, true)`;
        await tx`insert into latchkey.api_keys (user_id, name, key_prefix, key_hash,
            rate_limit_per_minute)
          values (${owner.id}, 'sneaky', ${keyPrefix}, decode(${keyHashHex}, 'hex'), null)`;
      })
    ),
    /row-level security/,
  );

  // Opting out (0) is the key's own choice, whatever the deployment allows.
  assert.equal(
    (await patchKey(created.id, { rateLimitPerMinute: null, cacheSeconds: 0 })).status,
    200,
  );
  assert.equal(await cacheSecondsOf(created.key), null);

  // An account with credits draws on them with every use: never cached, whatever its keys say.
  assert.equal((await patchKey(created.id, { cacheSeconds: 30 })).status, 200);
  assert.equal(await cacheSecondsOf(created.key), 30);
  assert.equal(
    (await asAdminKey("PATCH", `/admin/users/${owner.id}`, { body: { credits: 50 } })).status,
    200,
  );
  assert.equal(await cacheSecondsOf(created.key), null);
});

Deno.test("staff create a cached key; it is never cached past its expiry; rotation keeps it; an organization's admins mark theirs", async () => {
  const owner = await signUp("cached-staff");
  refusedFor(
    await asAdminKey("POST", "/admin/keys", {
      body: { userId: owner.id, cacheSeconds: 60 },
    }),
    "cacheSeconds",
    /no rate limit/,
  );
  const soon = new Date(Date.now() + 20_000).toISOString();
  const expiring = await issueKey(owner.id, {
    rateLimitPerMinute: null,
    cacheSeconds: 300,
    expiresAt: soon,
  });
  const seconds = await cacheSecondsOf(expiring.key);
  assert.ok(seconds !== null && seconds <= 20 && seconds >= 15, String(seconds));

  const lasting = await issueKey(owner.id, { rateLimitPerMinute: null, cacheSeconds: 120 });
  assert.equal(await cacheSecondsOf(lasting.key), 120);
  const rotated = await asAdminKey("POST", `/admin/keys/${lasting.id}/rotate`, {
    body: { overlapSeconds: 30 },
  });
  assert.equal(rotated.status, 201, JSON.stringify(rotated.body));
  recordSecret(rotated.body.key);
  assert.deepEqual([rotated.body.cacheSeconds, rotated.body.rateLimitPerMinute], [120, null]);
  assert.equal(await cacheSecondsOf(rotated.body.key), 120);
  const overlap = await cacheSecondsOf(lasting.key);
  assert.ok(overlap !== null && overlap <= 30, `the old key only until its end: ${overlap}`);

  const orgId = await createOrg(owner);
  const orgKey = await createOrgKey(owner.token, orgId);
  const orgPatch = (body: Record<string, unknown>) =>
    call("PATCH", `/orgs/${orgId}/keys/${orgKey.id}`, { token: owner.token, body });
  refusedFor(await orgPatch({ cacheSeconds: 60 }), "cacheSeconds", /no rate limit/);
  assert.equal((await patchKey(orgKey.id, { rateLimitPerMinute: null })).status, 200);
  assert.equal((await orgPatch({ cacheSeconds: 60 })).status, 200);
  const verified = await verifyKey(orgKey.key);
  assert.deepEqual(
    [verified.body.orgId, verified.body.userId, verified.body.cacheSeconds],
    [orgId, null, 60],
  );
});

Deno.test("a deployment's LATCHKEY_KEY_CACHE_SECONDS caches every eligible key that says nothing itself", async () => {
  const owner = await signUp("cached-deployment");
  const [plain, own, optedOut, limited] = await Promise.all([
    issueKey(owner.id, { rateLimitPerMinute: null }),
    issueKey(owner.id, { rateLimitPerMinute: null, cacheSeconds: 15 }),
    issueKey(owner.id, { rateLimitPerMinute: null, cacheSeconds: 0 }),
    issueKey(owner.id, {}),
  ]);
  const served = serveFunctions({ LATCHKEY_KEY_CACHE_SECONDS: "45" });
  try {
    const cached = async (key: string) =>
      (await served.call("POST", "/keys/verify", {}, { key })).body.cacheSeconds;
    assert.deepEqual(
      [await cached(plain.key), await cached(own.key), await cached(optedOut.key)],
      [45, 15, null],
    );
    assert.equal(await cached(limited.key), null, "a key with a rate limit never");
  } finally {
    await served.close();
  }
});

Deno.test("cached uses come back with the keys as proof: counted and dated, nothing charged, nothing else recorded", async () => {
  const owner = await signUp("cached-uses");
  const [cached, limited, dead] = await Promise.all([
    issueKey(owner.id, { rateLimitPerMinute: null, cacheSeconds: 60 }),
    issueKey(owner.id, { rateLimitPerMinute: 2 }),
    issueKey(owner.id, { rateLimitPerMinute: null, cacheSeconds: 60 }),
  ]);
  assert.equal((await verifyKey(cached.key)).body.code, "VALID");
  const before = await validUses(cached.id);
  // Revoked long ago: no cache could have answered it since.
  await withDatabase((sql) =>
    sql`update latchkey.api_keys set revoked_at = now() - interval '20 minutes'
        where id = ${dead.id}`
  );
  const unknown = generateApiKey("lk").key;
  const now = new Date().toISOString();
  const report = await latchkey.POST("/keys/cached-uses", {
    body: {
      uses: [
        { key: cached.key, count: 5, lastUsedAt: now },
        { key: cached.key, count: 2, lastUsedAt: "2999-01-01T00:00:00Z" },
        { key: limited.key, count: 1000, lastUsedAt: now },
        { key: dead.key, count: 3, lastUsedAt: now },
        { key: unknown, count: 1, lastUsedAt: now },
      ],
    },
  });
  assert.equal(report.response.status, 200, JSON.stringify(report.error));
  assert.deepEqual(report.data, { recorded: 1 });
  assert.equal(await validUses(cached.id), before + 7);
  const [row] = await withDatabase((sql) =>
    sql<{ future: boolean; recent: boolean }[]>`
      select last_used_at > now() as future, last_used_at > now() - interval '1 minute' as recent
      from latchkey.api_keys where id = ${cached.id}`
  );
  assert.deepEqual(row, { future: false, recent: true }, "a last use ahead of the clock is now");
  // A limited key's report charges nothing and counts nothing: its limit is all there.
  assert.equal(await validUses(limited.id), 0);
  const [first, second, third] = [
    await verifyKey(limited.key),
    await verifyKey(limited.key),
    await verifyKey(limited.key),
  ];
  assert.deepEqual(
    [first.body.code, second.body.code, third.status],
    ["VALID", "VALID", 429],
    "the rate limit is exactly what verify alone spent",
  );
  assert.equal(await validUses(dead.id), 0);
  assert.equal(
    (await auditEventsFor(report.response.headers.get("x-request-id")!)).length,
    0,
    "audited as a VALID verification is: not at all",
  );

  // The hour's counter cannot be overflowed by a holder reporting too much.
  await withDatabase((sql) =>
    sql`update latchkey.api_key_meters set valid = 2147483000,
          hour = date_trunc('hour', now(), 'UTC') where key_id = ${cached.id}`
  );
  const huge = await latchkey.POST("/keys/cached-uses", {
    body: { uses: [{ key: cached.key, count: 1_000_000, lastUsedAt: now }] },
  });
  assert.equal(huge.response.status, 200);
  const [{ valid }] = await withDatabase((sql) =>
    sql<{ valid: number }[]>`select valid from latchkey.api_key_meters where key_id = ${cached.id}`
  );
  assert.equal(valid, 2147483647);

  // Only a holder can report: a key's id, hash or a mangled key is no key.
  for (
    const [uses, path] of [
      [[{ key: cached.id, count: 1, lastUsedAt: now }], "uses.0.key"],
      [[{ key: `${cached.key.slice(0, -1)}x`, count: 1, lastUsedAt: now }], "uses.0.key"],
      [[{ key: cached.key, count: 0, lastUsedAt: now }], "uses.0.count"],
      [[{ key: cached.key, count: 1, lastUsedAt: "yesterday" }], "uses.0.lastUsedAt"],
      [[], "uses"],
      [Array(101).fill({ key: cached.key, count: 1, lastUsedAt: now }), "uses"],
    ] as [unknown[], string][]
  ) {
    const refused = await call("POST", "/keys/cached-uses", { body: { uses } });
    assert.equal(refused.status, 400, path);
    assert.ok(errorOf(refused).details?.some((detail) => detail.path === path), path);
  }
});
