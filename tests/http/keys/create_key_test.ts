import assert from "node:assert/strict";
import {
  auditEventsFor,
  call,
  createKey,
  errorOf,
  signUp,
  withDatabase,
} from "../../support/http.ts";

const keyShape = /^lk_[0-9A-Za-z]{49}$/;

Deno.test("POST /keys creates a key with the documented defaults and shows the secret once", async () => {
  const owner = await signUp("keys-create");
  const result = await call("POST", "/keys", { token: owner.token, body: { name: "laptop" } });
  assert.equal(result.status, 201);
  const created = result.body;
  assert.equal(created.success, true);
  assert.match(created.key, keyShape);
  assert.equal(created.keyPrefix, created.key.slice(0, 12));
  assert.equal(created.name, "laptop");
  assert.deepEqual(created.scopes, ["compile"]);
  assert.equal(created.rateLimitPerMinute, 60);
  assert.equal(created.expiresAt, null);
  assert.ok(Date.parse(created.createdAt) <= Date.now());

  const listed = await call("GET", "/keys", { token: owner.token });
  const single = await call("GET", `/keys/${created.id}`, { token: owner.token });
  for (const later of [listed, single]) {
    assert.equal(later.status, 200);
    assert.ok(!JSON.stringify(later.body).includes(created.key), "the secret is shown only once");
  }

  const [row] = await withDatabase((sql) =>
    sql`select encode(key_hash, 'hex') as hash, key_type, created_by from latchkey.api_keys
        where id = ${created.id}`
  );
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(created.key)),
  );
  assert.equal(row.hash, Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""));
  assert.equal(row.key_type, "human");
  assert.equal(row.created_by, owner.id);

  const [event] = await auditEventsFor(result.headers.get("x-request-id")!);
  assert.equal(event.action, "api_key.created");
  assert.equal(event.target_id, created.id);
  assert.equal(event.actor_user_id, owner.id);
  assert.ok(!JSON.stringify(event).includes(created.key));
});

Deno.test("POST /keys honours explicit scopes, [] included, expiry and rate limit", async () => {
  const owner = await signUp("keys-options");
  const none = await createKey(owner.token, { name: "no scopes", scopes: [] });
  assert.deepEqual(none.scopes, []);
  const custom = await createKey(owner.token, {
    name: "custom",
    scopes: ["compile", "compile"],
    expiresInDays: 30,
    rateLimitPerMinute: 5,
  });
  assert.deepEqual(custom.scopes, ["compile"]);
  assert.equal(custom.rateLimitPerMinute, 5);
  const days = (Date.parse(custom.expiresAt!) - Date.now()) / (24 * 3600_000);
  assert.ok(days > 29.9 && days <= 30, `expires in ${days} days`);
});

Deno.test("POST /keys refuses unknown scopes and lists the allowed ones", async () => {
  const owner = await signUp("keys-scopes");
  for (const scopes of [["compile", "launch-missiles"], ["users:read"]]) {
    const result = await call("POST", "/keys", {
      token: owner.token,
      body: { name: "bad", scopes },
    });
    assert.equal(result.status, 400, JSON.stringify(scopes));
    const error = errorOf(result);
    assert.equal(error.code, "validation_failed");
    assert.match(error.message, /Allowed: compile/);
    assert.equal(error.details?.length, 1);
    assert.match(error.details![0].path, /^scopes\.\d$/);
  }
  const [{ count }] = await withDatabase((sql) =>
    sql`select count(*)::int as count from latchkey.api_keys where user_id = ${owner.id}`
  );
  assert.equal(count, 0, "nothing was created");
});

Deno.test("POST /keys refuses fields it does not own (mass assignment) and bad values", async () => {
  const owner = await signUp("keys-mass");
  const stranger = await signUp("keys-mass-stranger");
  const cases: [Record<string, unknown>, string][] = [
    [{ name: "x", keyType: "ci" }, "keyType"],
    [{ name: "x", userId: stranger.id }, "userId"],
    [{ name: "x", revokedAt: null }, "revokedAt"],
    [{ name: "" }, "name"],
    [{ name: "x", rateLimitPerMinute: 0 }, "rateLimitPerMinute"],
    [{ name: "x", expiresInDays: 1.5 }, "expiresInDays"],
    [{ name: "x", scopes: "compile" }, "scopes"],
  ];
  for (const [body, path] of cases) {
    const result = await call("POST", "/keys", { token: owner.token, body });
    assert.equal(result.status, 400, JSON.stringify(body));
    assert.deepEqual(errorOf(result).details?.map((detail) => detail.path), [path]);
  }
});

Deno.test("an API key cannot mint API keys: 403 interactive_session_required", async () => {
  const owner = await signUp("keys-mint");
  const { key } = await createKey(owner.token);
  for (const headers of [{ authorization: `Bearer ${key}` }, { "x-api-key": key }]) {
    const result = await call("POST", "/keys", { headers, body: { name: "minted" } });
    assert.equal(result.status, 403);
    const error = errorOf(result);
    assert.equal(error.code, "interactive_session_required");
    assert.match(error.message, /sign-in/);
  }
  assert.equal((await call("POST", "/keys", { body: { name: "anonymous" } })).status, 401);
});
