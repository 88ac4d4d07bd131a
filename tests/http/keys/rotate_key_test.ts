import assert from "node:assert/strict";
import {
  asAdminKey,
  auditEventsFor,
  call,
  createAccount,
  createKey,
  errorOf,
  issueKey,
  signUp,
  verifyKey,
} from "../../support/http.ts";

Deno.test("rotation: a new secret with the same settings; the old one works for the overlap", async () => {
  const owner = await signUp("rotate");
  const created = await call("POST", "/keys", {
    token: owner.token,
    body: { name: "deploy", rateLimitPerMinute: 40, metadata: { env: "prod" } },
  });
  const rotated = await call("POST", `/keys/${created.body.id}/rotate`, {
    token: owner.token,
    body: { overlapSeconds: 3600 },
  });
  assert.equal(rotated.status, 201);
  assert.notEqual(rotated.body.id, created.body.id);
  assert.notEqual(rotated.body.key, created.body.key);
  for (
    const field of ["name", "scopes", "keyType", "rateLimitPerMinute", "metadata", "expiresAt"]
  ) {
    assert.deepEqual(rotated.body[field], created.body[field], field);
  }
  assert.equal(rotated.body.previousKey.id, created.body.id);
  const overlapEnds = Date.parse(rotated.body.previousKey.expiresAt);
  assert.ok(Math.abs(overlapEnds - (Date.now() + 3600_000)) < 60_000);

  assert.equal((await verifyKey(rotated.body.key)).body.code, "VALID");
  assert.equal((await verifyKey(created.body.key)).body.code, "VALID");
  const old = await call("GET", `/keys/${created.body.id}`, { token: owner.token });
  assert.equal(old.body.replacedBy, rotated.body.id);
  assert.equal(old.body.expiresAt, rotated.body.previousKey.expiresAt);

  const [audit] = await auditEventsFor(rotated.headers.get("x-request-id")!);
  assert.equal(audit.action, "api_key.rotated");
  assert.equal(audit.metadata.oldKeyId, created.body.id);
  assert.equal(audit.metadata.newKeyId, rotated.body.id);
  assert.equal(audit.metadata.overlapSeconds, 3600);
  const log = JSON.stringify(audit);
  assert.ok(!log.includes(rotated.body.key) && !log.includes(created.body.key));

  const again = await call("POST", `/keys/${created.body.id}/rotate`, {
    token: owner.token,
    body: {},
  });
  assert.equal(again.status, 409);
  assert.equal(errorOf(again).code, "key_not_rotatable");
});

Deno.test("rotation without overlap: the old key verifies as EXPIRED at once", async () => {
  const owner = await signUp("rotate-now");
  const created = await createKey(owner.token, { name: "now" });
  const rotated = await call("POST", `/keys/${created.id}/rotate`, {
    token: owner.token,
    body: {},
  });
  assert.equal(rotated.status, 201);
  assert.equal((await verifyKey(created.key)).body.code, "EXPIRED");
  assert.equal((await verifyKey(rotated.body.key)).body.code, "VALID");
  const revoked = await createKey(owner.token, { name: "gone" });
  await call("DELETE", `/keys/${revoked.id}`, { token: owner.token });
  const dead = await call("POST", `/keys/${revoked.id}/rotate`, { token: owner.token, body: {} });
  assert.equal(dead.status, 409);
  assert.equal(errorOf(dead).code, "key_not_rotatable");
  // Another user's key is not there for this caller; an id that is no key neither.
  const stranger = await signUp("rotate-stranger");
  for (const id of [rotated.body.id, crypto.randomUUID(), "not-an-id"]) {
    const foreign = await call("POST", `/keys/${id}/rotate`, { token: stranger.token, body: {} });
    assert.equal(foreign.status, 404, id);
  }
  assert.equal((await verifyKey(rotated.body.key)).body.code, "VALID");
  const badOverlap = await call("POST", `/keys/${rotated.body.id}/rotate`, {
    token: owner.token,
    body: { overlapSeconds: 604_801 },
  });
  assert.equal(badOverlap.status, 400);
  assert.equal(errorOf(badOverlap).details?.[0].path, "overlapSeconds");
});

Deno.test("during the overlap both keys draw on one rate limit and one set of credits", async () => {
  const owner = await signUp("rotate-budget");
  const issued = await issueKey(owner.id, { rateLimitPerMinute: 10, remaining: 1000 });
  const before = await Promise.all(Array.from({ length: 6 }, () => verifyKey(issued.key)));
  assert.ok(before.every((result) => result.body.code === "VALID"));
  const rotated = await asAdminKey("POST", `/admin/keys/${issued.id}/rotate`, {
    body: { overlapSeconds: 600 },
  });
  assert.equal(rotated.status, 201);
  assert.equal(rotated.body.remaining, 994, "the credits move to the new key");
  const after = await Promise.all([
    ...Array.from({ length: 10 }, () => verifyKey(issued.key)),
    ...Array.from({ length: 10 }, () => verifyKey(rotated.body.key)),
  ]);
  const valid = after.filter((result) => result.body.code === "VALID").length;
  // 10 a minute in all: 6 spent before, 4 left for both keys (5 if a 6-s emission interval
  // passed while this ran).
  assert.ok(valid >= 4 && valid <= 5, `${valid} passed after the rotation`);
  assert.equal(after.length - valid, after.filter((r) => r.body.code === "RATE_LIMITED").length);
  const audit = (await auditEventsFor(rotated.headers.get("x-request-id")!))
    .find((event) => event.action === "admin.key_rotated")!;
  assert.equal(audit.metadata.newKeyId, rotated.body.id);
});

Deno.test("rotation needs the owner's session; an Idempotency-Key replay never shows the secret", async () => {
  const owner = await signUp("rotate-idem");
  const created = await createKey(owner.token, { name: "idem" });
  const byKey = await call("POST", `/keys/${created.id}/rotate`, { token: created.key, body: {} });
  assert.equal(byKey.status, 403);
  const stranger = await createAccount("support", "rotate-support");
  const bySupport = await call("POST", `/admin/keys/${created.id}/rotate`, {
    token: stranger.token,
    body: {},
  });
  assert.equal(bySupport.status, 403, "support lacks keys:write");
  const headers = { "idempotency-key": `rotate-${crypto.randomUUID()}` };
  const first = await call("POST", `/keys/${created.id}/rotate`, {
    token: owner.token,
    headers,
    body: { overlapSeconds: 60 },
  });
  const replay = await call("POST", `/keys/${created.id}/rotate`, {
    token: owner.token,
    headers,
    body: { overlapSeconds: 60 },
  });
  assert.equal(first.status, 201);
  assert.equal(replay.status, 201);
  assert.equal(replay.headers.get("idempotency-replayed"), "true");
  assert.equal(replay.body.id, first.body.id);
  assert.equal(replay.body.key, null);
  assert.equal(typeof first.body.key, "string");
  const keys = await call("GET", "/keys", { token: owner.token });
  assert.equal(keys.body.keys.length, 2, "one rotation, not two");
});

Deno.test("a key in its rotation's overlap answers to its successor's current limit", async () => {
  const owner = await signUp("rotate-limit");
  const created = await createKey(owner.token, { name: "overlap", rateLimitPerMinute: 60 });
  const rotated = await call("POST", `/keys/${created.id}/rotate`, {
    token: owner.token,
    body: { overlapSeconds: 3600 },
  });
  assert.equal(rotated.status, 201);
  const lowered = await asAdminKey("PATCH", `/admin/keys/${rotated.body.id}`, {
    body: { rateLimitPerMinute: 2 },
  });
  assert.equal(lowered.status, 200, JSON.stringify(lowered.body));
  const codes = [];
  for (let i = 0; i < 12; i++) codes.push((await verifyKey(created.key)).body.code);
  assert.deepEqual(codes, [...Array(2).fill("VALID"), ...Array(10).fill("RATE_LIMITED")]);
  // An admin's disable of the successor stops the old key too.
  await asAdminKey("PATCH", `/admin/keys/${rotated.body.id}`, { body: { enabled: false } });
  assert.equal((await verifyKey(created.key)).body.code, "DISABLED");
});
