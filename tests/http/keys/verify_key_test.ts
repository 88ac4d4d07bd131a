import assert from "node:assert/strict";
import {
  auditEventsFor,
  call,
  createKey,
  errorOf,
  minutesTouched,
  signUp,
  verifyKey,
  withDatabase,
} from "../../support/http.ts";

function flipLastCharacter(key: string): string {
  const last = key.at(-1)!;
  return key.slice(0, -1) + (last === "a" ? "b" : "a");
}

Deno.test("verify answers VALID with the key's owner, scopes and rate-limit state", async () => {
  const owner = await signUp("verify-valid");
  const created = await createKey(owner.token, { name: "v", rateLimitPerMinute: 100 });
  const result = await verifyKey(created.key);
  assert.equal(result.status, 200);
  const { rateLimit, ...rest } = result.body;
  assert.deepEqual(rest, {
    valid: true,
    code: "VALID",
    keyId: created.id,
    userId: owner.id,
    orgId: null,
    scopes: ["compile"],
    remaining: null,
    metadata: {},
    cacheSeconds: null,
    message: null,
  });
  assert.equal(rateLimit.limit, 100);
  assert.ok(rateLimit.remaining < 100 && rateLimit.remaining >= 0);
  assert.ok(Date.parse(rateLimit.resetAt) > Date.now());
  assert.equal(result.headers.get("ratelimit-limit"), "100");
  assert.equal(result.headers.get("ratelimit-remaining"), String(rateLimit.remaining));
  assert.ok(Number(result.headers.get("ratelimit-reset")) <= 60);
});

Deno.test("verify answers MALFORMED for garbage and bad checksums, NOT_FOUND for unknown keys", async () => {
  const owner = await signUp("verify-malformed");
  const created = await createKey(owner.token);
  for (const key of ["", "nope", "lk_short", flipLastCharacter(created.key), created.key + "x"]) {
    const result = await verifyKey(key);
    assert.equal(result.status, 200, key);
    assert.equal(result.body.valid, false);
    assert.equal(result.body.code, "MALFORMED", key);
    assert.equal(result.body.keyId, null);
  }
  // A well-formed key nobody issued: right shape, right checksum.
  await withDatabase((sql) => sql`delete from latchkey.api_keys where id = ${created.id}`);
  const unknown = await verifyKey(created.key);
  assert.equal(unknown.body.code, "NOT_FOUND");
  assert.equal(unknown.body.valid, false);
});

Deno.test("a malformed key used as a credential is a 401 that writes nothing", async () => {
  const owner = await signUp("verify-no-db");
  const created = await createKey(owner.token);
  const result = await call("GET", "/auth/session", { token: flipLastCharacter(created.key) });
  assert.equal(result.status, 401);
  assert.match(errorOf(result).message, /malformed/);
  assert.equal((await auditEventsFor(result.headers.get("x-request-id")!)).length, 0);
});

Deno.test("verify answers EXPIRED for an expired key and audits the rejection", async () => {
  const owner = await signUp("verify-expired");
  const created = await createKey(owner.token, { name: "short-lived", expiresInDays: 1 });
  await withDatabase((sql) =>
    sql`update latchkey.api_keys set expires_at = now() - interval '1 second'
        where id = ${created.id}`
  );
  const result = await verifyKey(created.key);
  assert.equal(result.body.code, "EXPIRED");
  assert.equal(result.body.valid, false);
  const [event] = await auditEventsFor(result.headers.get("x-request-id")!);
  assert.equal(event.action, "api_key.rejected");
  assert.equal(event.actor_credential_id, created.id);
  assert.deepEqual(event.metadata, { reason: "EXPIRED", repeatsInPreviousMinute: 0 });
});

Deno.test("verify answers OWNER_BANNED while the owner is banned, VALID again after", async () => {
  const owner = await signUp("verify-banned");
  const created = await createKey(owner.token);
  await withDatabase((sql) =>
    sql`update latchkey.users set banned_at = now() where id = ${owner.id}`
  );
  assert.equal((await verifyKey(created.key)).body.code, "OWNER_BANNED");
  const asCredential = await call("GET", "/keys", { token: created.key });
  assert.equal(asCredential.status, 403);
  assert.equal(errorOf(asCredential).code, "account_banned");
  await withDatabase((sql) =>
    sql`update latchkey.users set banned_at = null where id = ${owner.id}`
  );
  assert.equal((await verifyKey(created.key)).body.code, "VALID");
});

Deno.test("verify answers INSUFFICIENT_SCOPE for a scope the key lacks", async () => {
  const owner = await signUp("verify-scope");
  const compile = await createKey(owner.token, { name: "c" });
  const none = await createKey(owner.token, { name: "n", scopes: [] });
  assert.equal((await verifyKey(compile.key, "compile")).body.code, "VALID");
  const lacking = await verifyKey(none.key, "compile");
  assert.equal(lacking.status, 200);
  assert.equal(lacking.body.valid, false);
  assert.equal(lacking.body.code, "INSUFFICIENT_SCOPE");
  assert.deepEqual(lacking.body.scopes, []);
});

Deno.test("verify answers RATE_LIMITED with 429, the headers, and one audit row per window", async () => {
  const owner = await signUp("verify-limit");
  const created = await createKey(owner.token, { name: "tiny", rateLimitPerMinute: 2 });
  assert.equal((await verifyKey(created.key)).body.code, "VALID");
  const last = await verifyKey(created.key);
  assert.equal(last.body.code, "VALID");
  assert.equal(last.body.rateLimit.remaining, 0);
  const [, minutes] = await minutesTouched(async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const limited = await verifyKey(created.key);
      assert.equal(limited.status, 429);
      assert.equal(limited.body.valid, false);
      assert.equal(limited.body.code, "RATE_LIMITED");
      assert.equal(limited.body.error.code, "rate_limited");
      assert.equal(limited.body.error.requestId, limited.headers.get("x-request-id"));
      assert.equal(limited.headers.get("ratelimit-remaining"), "0");
      assert.ok(Number(limited.headers.get("retry-after")) >= 1);
    }
  });
  const [{ count }] = await withDatabase((sql) =>
    sql`select count(*)::int as count from latchkey.audit_events
        where action = 'api_key.rate_limited' and target_id = ${created.id}`
  );
  assert.ok(count >= 1 && count <= minutes, `${count} rows in ${minutes} minute(s)`);
});

Deno.test("verify touches last_used_at, at most once a minute", async () => {
  const owner = await signUp("verify-last-used");
  const created = await createKey(owner.token);
  const lastUsed = () =>
    withDatabase((sql) => sql`select last_used_at from latchkey.api_keys where id = ${created.id}`)
      .then(([row]) => row.last_used_at as Date | null);
  assert.equal(await lastUsed(), null);
  await verifyKey(created.key);
  const first = await lastUsed();
  assert.ok(first);
  await verifyKey(created.key);
  assert.deepEqual(await lastUsed(), first);
});

Deno.test("verify validates its body", async () => {
  const missing = await call("POST", "/keys/verify", { body: {} });
  assert.equal(missing.status, 400);
  assert.deepEqual(errorOf(missing).details?.map((detail) => detail.path), ["key"]);
  const extra = await call("POST", "/keys/verify", { body: { key: "x", admin: true } });
  assert.equal(extra.status, 400);
});
