import assert from "node:assert/strict";
import {
  asAdminKey,
  auditEventsFor,
  call,
  createKey,
  errorOf,
  signUp,
  verifyKey,
} from "../../support/http.ts";

Deno.test("a disabled key verifies as DISABLED and is refused everywhere until enabled again", async () => {
  const owner = await signUp("key-disable");
  const created = await createKey(owner.token, { name: "switch" });
  const disabled = await call("PATCH", `/keys/${created.id}`, {
    token: owner.token,
    body: { enabled: false },
  });
  assert.equal(disabled.status, 200);
  assert.equal(disabled.body.enabled, false);
  assert.equal(disabled.body.revokedAt, null, "disabling is not revoking");

  const verified = await verifyKey(created.key);
  assert.equal(verified.status, 200);
  assert.equal(verified.body.valid, false);
  assert.equal(verified.body.code, "DISABLED");
  assert.equal(verified.body.metadata, null);
  for (
    const [method, path] of [["GET", "/auth/session"], ["GET", "/keys"], ["POST", "/auth/token"]]
  ) {
    const refused = await call(method, path, { token: created.key });
    assert.equal(refused.status, 401, `${method} ${path}`);
    assert.match(errorOf(refused).message, /disabled/);
  }

  const enabled = await call("PATCH", `/keys/${created.id}`, {
    token: owner.token,
    body: { enabled: true },
  });
  assert.equal(enabled.status, 200);
  assert.equal((await verifyKey(created.key)).body.code, "VALID");
  const [audit] = await auditEventsFor(disabled.headers.get("x-request-id")!);
  assert.equal(audit.action, "api_key.updated");
  assert.deepEqual(audit.metadata, { changed: ["enabled"] });
});

Deno.test("metadata is set at creation or later, returned by verify, and at most 2 KiB of JSON", async () => {
  const owner = await signUp("key-metadata");
  const created = await call("POST", "/keys", {
    token: owner.token,
    body: { name: "tagged", metadata: { customer: "acme", seats: 3 } },
  });
  assert.equal(created.status, 201);
  assert.deepEqual(created.body.metadata, { customer: "acme", seats: 3 });
  assert.deepEqual((await verifyKey(created.body.key)).body.metadata, {
    customer: "acme",
    seats: 3,
  });

  const renamed = await call("PATCH", `/keys/${created.body.id}`, {
    token: owner.token,
    body: { name: "retagged", metadata: { customer: "globex", nested: { ok: [1, 2] } } },
  });
  assert.equal(renamed.status, 200);
  assert.equal(renamed.body.name, "retagged");
  assert.deepEqual((await verifyKey(created.body.key)).body.metadata, {
    customer: "globex",
    nested: { ok: [1, 2] },
  });

  for (
    const [body, path] of [
      [{ metadata: { blob: "x".repeat(2040) } }, "metadata"],
      [{ metadata: ["not", "an", "object"] }, "metadata"],
      [{ metadata: "text" }, "metadata"],
      [{ enabled: "no" }, "enabled"],
      [{}, "(body)"],
      [{ remaining: 5 }, "remaining"],
    ] as const
  ) {
    const refused = await call("PATCH", `/keys/${created.body.id}`, { token: owner.token, body });
    assert.equal(refused.status, 400, JSON.stringify(body));
    assert.ok(
      errorOf(refused).details?.some((detail) => detail.path === path),
      `${JSON.stringify(body)}: ${JSON.stringify(refused.body)}`,
    );
  }
  // Nothing of the refused changes was written.
  const after = await call("GET", `/keys/${created.body.id}`, { token: owner.token });
  assert.deepEqual(after.body.metadata, { customer: "globex", nested: { ok: [1, 2] } });
  assert.equal(after.body.remaining, null);
});

Deno.test("PATCH /keys/:id: an API key changes only itself; another user's key is a 404", async () => {
  const owner = await signUp("key-patch-owner");
  const stranger = await signUp("key-patch-stranger");
  const first = await createKey(owner.token, { name: "first" });
  const second = await createKey(owner.token, { name: "second" });
  const sibling = await call("PATCH", `/keys/${second.id}`, {
    token: first.key,
    body: { enabled: false },
  });
  assert.equal(sibling.status, 403);
  assert.equal(errorOf(sibling).code, "interactive_session_required");
  assert.equal((await verifyKey(second.key)).body.code, "VALID");

  const itself = await call("PATCH", `/keys/${first.id}`, {
    token: first.key,
    body: { name: "renamed by itself" },
  });
  assert.equal(itself.status, 200);
  assert.equal(itself.body.name, "renamed by itself");

  const foreign = await call("PATCH", `/keys/${first.id}`, {
    token: stranger.token,
    body: { enabled: false },
  });
  assert.equal(foreign.status, 404);
  assert.equal((await verifyKey(first.key)).body.code, "VALID");
});

Deno.test("what an admin set the owner cannot undo: an admin's disable and metadata, through rotations too", async () => {
  const owner = await signUp("admin-set");
  const created = await createKey(owner.token, { name: "governed" });
  const patchAsOwner = (id: string, body: Record<string, unknown>) =>
    call("PATCH", `/keys/${id}`, { token: owner.token, body });
  const adminSet = await asAdminKey("PATCH", `/admin/keys/${created.id}`, {
    body: { enabled: false, metadata: { plan: "free" } },
  });
  assert.equal(adminSet.status, 200, JSON.stringify(adminSet.body));

  const enable = await patchAsOwner(created.id, { enabled: true });
  assert.equal(enable.status, 403);
  assert.match(errorOf(enable).message, /only an admin/);
  const upgrade = await patchAsOwner(created.id, { metadata: { plan: "enterprise" } });
  assert.equal(upgrade.status, 403);
  assert.equal((await verifyKey(created.key)).body.code, "DISABLED");
  assert.equal(
    (await patchAsOwner(created.id, { name: "renamed" })).status,
    200,
    "the rest is theirs",
  );

  // A rotation by the owner hands the admin's settings to the new key.
  const rotated = await call("POST", `/keys/${created.id}/rotate`, {
    token: owner.token,
    body: { overlapSeconds: 60 },
  });
  assert.equal(rotated.status, 201, JSON.stringify(rotated.body));
  assert.equal((await patchAsOwner(rotated.body.id, { enabled: true })).status, 403);
  assert.equal((await verifyKey(rotated.body.key)).body.code, "DISABLED");

  // An admin lifts it; then the owner's switch is the owner's again. The metadata stays the admin's.
  const lifted = await asAdminKey("PATCH", `/admin/keys/${rotated.body.id}`, {
    body: { enabled: true },
  });
  assert.equal(lifted.status, 200);
  assert.equal((await patchAsOwner(rotated.body.id, { enabled: false })).status, 200);
  assert.equal((await patchAsOwner(rotated.body.id, { enabled: true })).status, 200);
  const valid = await verifyKey(rotated.body.key);
  assert.equal(valid.body.code, "VALID");
  assert.deepEqual(valid.body.metadata, { plan: "free" });
  assert.equal(
    (await patchAsOwner(rotated.body.id, { metadata: { plan: "enterprise" } })).status,
    403,
  );
});
