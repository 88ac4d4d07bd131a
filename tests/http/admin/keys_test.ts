import assert from "node:assert/strict";
import {
  asAdminKey,
  auditEventsFor,
  call,
  createKey,
  createServiceAccount,
  errorOf,
  signUp,
  verifyKey,
} from "../../support/http.ts";

Deno.test("an admin issues a CI key to a service account; the secret is shown once", async () => {
  const serviceId = await createServiceAccount("ci-bot");
  const created = await asAdminKey("POST", "/admin/keys", {
    body: { userId: serviceId, name: "deploy pipeline", keyType: "ci", expiresInDays: 90 },
  });
  assert.equal(created.status, 201);
  assert.equal(created.body.keyType, "ci");
  assert.equal(created.body.userId, serviceId);
  assert.match(created.body.key, /^lk_/);
  assert.deepEqual(created.body.scopes, ["compile"]);
  const verified = await verifyKey(created.body.key);
  assert.equal(verified.body.code, "VALID");
  assert.equal(verified.body.userId, serviceId);

  const listed = await asAdminKey("GET", `/admin/keys?userId=${serviceId}`);
  assert.equal(listed.status, 200);
  assert.deepEqual(listed.body.keys.map((key: { id: string }) => key.id), [created.body.id]);
  assert.ok(!JSON.stringify(listed.body).includes(created.body.key));
  const events = await auditEventsFor(created.headers.get("x-request-id")!);
  assert.ok(events.some((event) => event.action === "admin.key_created"));
});

Deno.test("admin-issued admin scopes must be within the owner's role", async () => {
  const user = await signUp("admin-keys-owner");
  const refused = await asAdminKey("POST", "/admin/keys", {
    body: { userId: user.id, scopes: ["users:read"] },
  });
  assert.equal(refused.status, 400);
  assert.match(errorOf(refused).message, /Allowed: compile/);
  const unknownOwner = await asAdminKey("POST", "/admin/keys", {
    body: { userId: "00000000-0000-4000-8000-000000000000" },
  });
  assert.equal(unknownOwner.status, 400);
  assert.deepEqual(errorOf(unknownOwner).details?.map((detail) => detail.path), ["userId"]);
  const both = await asAdminKey("POST", "/admin/keys", {
    body: { userId: user.id, expiresInDays: 1, expiresAt: "2099-01-01T00:00:00Z" },
  });
  assert.equal(both.status, 400);
  const past = await asAdminKey("POST", "/admin/keys", {
    body: { userId: user.id, expiresAt: "2001-01-01T00:00:00Z" },
  });
  assert.equal(past.status, 400);
});

Deno.test("POST /admin/keys/:id/revoke revokes any user's key at once", async () => {
  const owner = await signUp("admin-revoke-owner");
  const key = await createKey(owner.token);
  const revoked = await asAdminKey("POST", `/admin/keys/${key.id}/revoke`);
  assert.equal(revoked.status, 200);
  assert.equal(revoked.body.id, key.id);
  assert.ok(revoked.body.revokedAt);
  assert.equal((await call("GET", "/keys", { token: key.key })).status, 401);
  assert.equal((await asAdminKey("POST", "/admin/keys/not-a-uuid/revoke")).status, 404);
});
