import assert from "node:assert/strict";
import { flushKeyUses, type LatchkeyContext, withLatchkey } from "@latchkey/with-latchkey";
import {
  asAdminKey,
  call,
  functionsUrl,
  issueKey,
  recordSecret,
  signUp,
  validUses,
  withDatabase,
} from "../support/http.ts";
import { insertOrg, insertOrgKey } from "../support/orgs.ts";

/**
 * withLatchkey's cache of verify's answers (packages/with-latchkey/key_cache.ts) against the
 * suite's gateway: a cacheable key's requests make no call, concurrent ones one; a key with a
 * rate limit is asked about every time; a revocation, a disabled key, a rotation, a ban and a
 * suspension are all seen once `cacheSeconds` has passed (the package's `now` moves the clock),
 * and the cached uses reach the key's history. The server's side: tests/http/keys/cached_keys_test.ts.
 */

const ttl = 30;

/** A handler whose calls to Latchkey are counted by path, and a clock the test moves. */
function handler() {
  const clock = { now: Date.now() };
  const calls: Record<string, number> = {};
  const serve = withLatchkey({
    url: functionsUrl,
    // Nothing here queries the Data API: its client is made, never used.
    supabaseUrl: "http://127.0.0.1:9",
    now: () => clock.now,
    // Settings of its own: this file's first handler makes the isolate's cache for them (another
    // file's handlers share the default one), and only the test's flushKeyUses() sends.
    keyCache: { flushSeconds: 3600 },
    fetch: (request) => {
      const path = new URL(request.url).pathname.replace(/^\/functions\/v1/, "");
      calls[path] = (calls[path] ?? 0) + 1;
      return fetch(request);
    },
  }, (_request, { principal }: LatchkeyContext) => Response.json({ principal }));
  const request = (key: string) =>
    serve(new Request("http://team.example.test/", { headers: { "x-api-key": key } }));
  return { request, calls, clock };
}

const total = (calls: Record<string, number>) =>
  Object.values(calls).reduce((sum, count) => sum + count, 0);

/** A key of `userId` with no rate limit, marked cacheable for `ttl` seconds. */
const cacheableKey = (userId: string) =>
  issueKey(userId, { rateLimitPerMinute: null, cacheSeconds: ttl });

Deno.test("a cacheable key: one verify for requests that arrive together, none after, its uses reported", async () => {
  const owner = await signUp("cache-hits");
  const [cached, limited] = await Promise.all([
    cacheableKey(owner.id),
    issueKey(owner.id, { rateLimitPerMinute: 100_000 }),
  ]);
  const { request, calls, clock } = handler();
  try {
    const together = await Promise.all(Array.from({ length: 20 }, () => request(cached.key)));
    assert.deepEqual(together.map((answer) => answer.status), Array(20).fill(200));
    assert.deepEqual({ ...calls }, { "/keys/verify": 1, "/auth/token": 1 }, "one verify, one mint");
    const { principal } = await together[0].json();
    assert.deepEqual(
      [principal.kind, principal.keyId, principal.userId, principal.rateLimit],
      ["api_key", cached.id, owner.id, null],
    );
    assert.equal(together[0].headers.get("ratelimit-limit"), null, "no rate limit to tell");

    clock.now += (ttl - 1) * 1000;
    for (let i = 0; i < 30; i++) assert.equal((await request(cached.key)).status, 200);
    assert.equal(total(calls), 2, "no call at all while the answer is fresh");

    // Latchkey counted the verify and the mint; the 49 cached uses come back in one report.
    const counted = await validUses(cached.id);
    await flushKeyUses();
    assert.equal(calls["/keys/cached-uses"], 1);
    assert.equal(await validUses(cached.id), counted + 49);
    const [{ recent }] = await withDatabase((sql) =>
      sql<{ recent: boolean }[]>`
        select last_used_at > now() - interval '1 minute' as recent
        from latchkey.api_keys where id = ${cached.id}`
    );
    assert.ok(recent);

    // A key with a rate limit: every request is verified, side by side, none held.
    const before = calls["/keys/verify"];
    for (let round = 0; round < 2; round++) {
      const answers = await Promise.all(Array.from({ length: 10 }, () => request(limited.key)));
      assert.deepEqual(answers.map((answer) => answer.status), Array(10).fill(200));
      assert.ok(answers.every((answer) => answer.headers.get("ratelimit-limit") === "100000"));
    }
    assert.equal(calls["/keys/verify"] - before, 20, "each request counted by Latchkey");
  } finally {
    await flushKeyUses();
  }
});

Deno.test("revoked, disabled, rotated, banned or suspended: every change is seen once cacheSeconds has passed", async () => {
  const owner = await signUp("cache-bound");
  const [revoked, disabled, rotated, banned] = await Promise.all(
    Array.from({ length: 4 }, () => cacheableKey(owner.id)),
  );
  const orgId = await insertOrg();
  const orgKey = await insertOrgKey(orgId, ["compile"]);
  await withDatabase((sql) =>
    sql`update latchkey.api_keys set rate_limit_per_minute = null, cache_seconds = ${ttl}
        where id = ${orgKey.id}`
  );
  const keys = [revoked.key, disabled.key, rotated.key, banned.key, orgKey.key];
  const { request, calls, clock } = handler();
  try {
    const statuses = async () => {
      const answers = await Promise.all(keys.map(request));
      return await Promise.all(
        answers.map(async (answer) =>
          answer.status === 200 ? 200 : `${answer.status} ${(await answer.json()).error.code}`
        ),
      );
    };
    const heldFrom = clock.now;
    assert.deepEqual(await statuses(), [200, 200, 200, 200, 200]);
    assert.equal(calls["/keys/verify"], 5);

    const changes = [
      await call("DELETE", `/keys/${revoked.id}`, { token: owner.token }),
      await call("PATCH", `/keys/${disabled.id}`, { token: owner.token, body: { enabled: false } }),
      await asAdminKey("POST", `/admin/keys/${rotated.id}/rotate`, { body: { overlapSeconds: 0 } }),
      await asAdminKey("PATCH", `/admin/users/${owner.id}`, { body: { banned: true } }),
      await asAdminKey("PATCH", `/admin/orgs/${orgId}`, { body: { suspended: true } }),
    ];
    recordSecret(changes[2].body.key);
    assert.deepEqual(
      changes.map((change) => change.status),
      [200, 200, 201, 200, 200],
      JSON.stringify(changes.map((change) => change.body)),
    );

    // Within the bound the isolate still answers from its cache: the bound is cacheSeconds.
    clock.now = heldFrom + ttl * 1000 - 1;
    assert.deepEqual(await statuses(), [200, 200, 200, 200, 200]);
    assert.equal(calls["/keys/verify"], 5, "answered from the cache, no call");

    // At cacheSeconds every change is seen: the next request asks, and is refused.
    clock.now = heldFrom + ttl * 1000;
    assert.deepEqual(await statuses(), [
      "401 unauthorized",
      "401 unauthorized",
      "401 unauthorized",
      "403 account_banned",
      "403 org_suspended",
    ]);
    assert.equal(calls["/keys/verify"], 10);
    // A refusal is never held: asked again, refused again.
    assert.equal((await request(revoked.key)).status, 401);
    assert.equal(calls["/keys/verify"], 11);
  } finally {
    await flushKeyUses();
  }
});
