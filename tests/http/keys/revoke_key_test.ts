import assert from "node:assert/strict";
import { auditEventsFor, call, createKey, errorOf, signUp, verifyKey } from "../../support/http.ts";

Deno.test("DELETE /keys/:id revokes the key, which fails on its very next request", async () => {
  const owner = await signUp("keys-revoke");
  const created = await createKey(owner.token);
  assert.equal((await call("GET", "/auth/session", { token: created.key })).status, 200);

  const result = await call("DELETE", `/keys/${created.id}`, { token: owner.token });
  assert.equal(result.status, 200);
  assert.equal(result.body.success, true);
  assert.equal(result.body.id, created.id);
  assert.ok(Date.parse(result.body.revokedAt) <= Date.now());
  const [event] = await auditEventsFor(result.headers.get("x-request-id")!);
  assert.equal(event.action, "api_key.revoked");
  assert.equal(event.target_id, created.id);

  const next = await call("GET", "/auth/session", { token: created.key });
  assert.equal(next.status, 401);
  assert.match(errorOf(next).message, /revoked/);
  const [rejected] = await auditEventsFor(next.headers.get("x-request-id")!);
  assert.equal(rejected.action, "api_key.rejected");
  assert.deepEqual(rejected.metadata, { reason: "REVOKED", repeatsInPreviousMinute: 0 });

  const verified = await verifyKey(created.key);
  assert.equal(verified.status, 200);
  assert.equal(verified.body.valid, false);
  assert.equal(verified.body.code, "REVOKED");

  const again = await call("DELETE", `/keys/${created.id}`, { token: owner.token });
  assert.equal(again.status, 200);
  assert.equal(again.body.revokedAt, result.body.revokedAt, "revoking twice keeps the first time");
});

Deno.test("a key can revoke itself; another user's key id is a 404 and stays alive", async () => {
  const owner = await signUp("keys-self-revoke");
  const stranger = await signUp("keys-self-revoke-stranger");
  const created = await createKey(owner.token);

  const foreign = await call("DELETE", `/keys/${created.id}`, { token: stranger.token });
  assert.equal(foreign.status, 404);
  assert.equal((await verifyKey(created.key)).body.code, "VALID");

  const self = await call("DELETE", `/keys/${created.id}`, {
    headers: { "x-api-key": created.key },
  });
  assert.equal(self.status, 200);
  assert.equal((await verifyKey(created.key)).body.code, "REVOKED");
});
