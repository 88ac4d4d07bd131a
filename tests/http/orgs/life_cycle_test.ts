import assert from "node:assert/strict";
import { serveFunctions } from "../../support/in_process.ts";
import {
  auditEventsFor,
  call,
  createAccount,
  createKey,
  errorOf,
  signUp,
  withDatabase,
} from "../../support/http.ts";
import { addMember, createOrg, rolesIn } from "../../support/orgs.ts";

Deno.test("an organization's life: created and owned, listed, read, renamed, paged, deleted", async () => {
  const owner = await signUp("org-owner");
  const created = await call("POST", "/orgs", {
    token: owner.token,
    body: { name: "Ünïcode Widgets, Inc." },
  });
  assert.equal(created.status, 201);
  const org = created.body.org;
  assert.equal(org.name, "Ünïcode Widgets, Inc.");
  assert.match(org.slug, /^unicode-widgets-inc(-[a-z0-9]{4})?$/, "a slug made from the name");
  assert.equal(org.role, "owner");
  assert.deepEqual(org.permissions, [
    "keys:read",
    "keys:write",
    "members:invite",
    "members:write",
    "org:delete",
    "org:read",
    "org:write",
  ]);
  assert.equal(org.suspended, false);
  const [event] = await auditEventsFor(created.headers.get("x-request-id")!);
  assert.equal(event.action, "org.created");
  assert.equal(event.target_id, org.id);
  assert.equal(event.actor_user_id, owner.id);

  // The same name again: the derived slug is taken, a suffix makes another.
  const twin = await call("POST", "/orgs", {
    token: owner.token,
    body: { name: "Ünïcode Widgets, Inc." },
  });
  assert.equal(twin.status, 201);
  assert.notEqual(twin.body.org.slug, org.slug);
  // A slug asked for is the caller's to change.
  const taken = await call("POST", "/orgs", {
    token: owner.token,
    body: { name: "Copycat", slug: org.slug },
  });
  assert.equal(taken.status, 409);
  assert.equal(errorOf(taken).code, "slug_unavailable");
  const badSlug = await call("POST", "/orgs", {
    token: owner.token,
    body: { name: "Bad", slug: "-nope-" },
  });
  assert.equal(badSlug.status, 400);

  const mine = await call("GET", "/orgs?limit=1", { token: owner.token });
  assert.equal(mine.status, 200);
  assert.equal(mine.body.orgs.length, 1);
  assert.equal(mine.body.orgs[0].id, twin.body.org.id, "newest membership first");
  const next = await call("GET", `/orgs?limit=1&cursor=${mine.body.nextCursor}`, {
    token: owner.token,
  });
  assert.deepEqual(next.body.orgs.map((o: { id: string }) => o.id), [org.id]);
  assert.equal(next.body.orgs[0].role, "owner");

  const member = await signUp("org-member");
  const admin = await signUp("org-admin");
  await addMember(org.id, member.id, "member");
  await addMember(org.id, admin.id, "admin");
  const read = await call("GET", `/orgs/${org.id}`, { token: member.token });
  assert.equal(read.status, 200);
  assert.equal(read.body.org.role, "member");
  assert.deepEqual(read.body.org.permissions, ["org:read"]);

  const members = await call("GET", `/orgs/${org.id}/members?limit=2`, { token: member.token });
  assert.equal(members.status, 200);
  assert.deepEqual(
    members.body.members.map((m: { email: string; role: string }) => [m.email, m.role]),
    [[admin.email, "admin"], [member.email, "member"]],
    "a member sees the others' names and addresses, newest first",
  );
  const rest = await call("GET", `/orgs/${org.id}/members?cursor=${members.body.nextCursor}`, {
    token: member.token,
  });
  assert.deepEqual(rest.body.members.map((m: { userId: string }) => m.userId), [owner.id]);
  assert.equal(rest.body.nextCursor, null);

  const renameByMember = await call("PATCH", `/orgs/${org.id}`, {
    token: member.token,
    body: { name: "Mine now" },
  });
  assert.equal(renameByMember.status, 403);
  assert.match(errorOf(renameByMember).message, /org:write/);
  const renamed = await call("PATCH", `/orgs/${org.id}`, {
    token: admin.token,
    body: { name: "Widgets", slug: `widgets-${org.id.slice(0, 8)}` },
  });
  assert.equal(renamed.status, 200);
  assert.equal(renamed.body.org.name, "Widgets");
  const [updated] = await auditEventsFor(renamed.headers.get("x-request-id")!);
  assert.equal(updated.action, "org.updated");
  assert.deepEqual(updated.metadata.before, { name: org.name, slug: org.slug });
  const clash = await call("PATCH", `/orgs/${org.id}`, {
    token: admin.token,
    body: { slug: twin.body.org.slug },
  });
  assert.equal(clash.status, 409);
  assert.equal(errorOf(clash).code, "slug_unavailable");

  const deleteByAdmin = await call("DELETE", `/orgs/${org.id}`, { token: admin.token });
  assert.equal(deleteByAdmin.status, 403, "org:delete is the owner's");
  const deleted = await call("DELETE", `/orgs/${org.id}`, { token: owner.token });
  assert.equal(deleted.status, 200);
  const [gone] = await auditEventsFor(deleted.headers.get("x-request-id")!);
  assert.equal(gone.action, "org.deleted");
  assert.deepEqual(await rolesIn(org.id), {}, "its memberships went with it");
  const after = await call("GET", `/orgs/${org.id}`, { token: member.token });
  assert.equal(after.status, 404);
});

Deno.test("org routes take sessions only; another organization is a 404, never a 403", async () => {
  const owner = await signUp("org-iso-owner");
  const stranger = await signUp("org-iso-stranger");
  const orgId = await createOrg(owner, "Isolated");
  const key = await createKey(owner.token, { name: "not for orgs" });
  const byKey = await call("GET", "/orgs", { headers: { "x-api-key": key.key } });
  assert.equal(byKey.status, 403);
  assert.equal(errorOf(byKey).code, "interactive_session_required");

  for (
    const [method, path, body] of [
      ["GET", `/orgs/${orgId}`, undefined],
      ["GET", `/orgs/${orgId}/members`, undefined],
      ["PATCH", `/orgs/${orgId}`, { name: "Taken over" }],
      ["DELETE", `/orgs/${orgId}`, undefined],
      ["PATCH", `/orgs/${orgId}/members/${owner.id}`, { role: "member" }],
      ["DELETE", `/orgs/${orgId}/members/${owner.id}`, undefined],
      ["POST", `/orgs/${orgId}/transfer`, { userId: owner.id }],
    ] as const
  ) {
    const result = await call(method, path, { token: stranger.token, body });
    assert.equal(result.status, 404, `${method} ${path}`);
  }
  const listed = await call("GET", "/orgs", { token: stranger.token });
  assert.deepEqual(listed.body.orgs, []);
  assert.deepEqual(await rolesIn(orgId), { [owner.id]: "owner" }, "nothing changed");
  const [org] = await withDatabase((sql) =>
    sql`select name from latchkey.organizations where id = ${orgId}`
  );
  assert.equal(org.name, "Isolated");
});

Deno.test("LATCHKEY_ORG_CREATION=admins: only a role holding orgs:write creates one", async () => {
  const functions = serveFunctions({ LATCHKEY_ENV: "test", LATCHKEY_ORG_CREATION: "admins" });
  try {
    const user = await signUp("org-creation-user");
    const admin = await createAccount("admin", "org-creation-admin");
    const refused = await functions.call("POST", "/orgs", {
      authorization: `Bearer ${user.token}`,
    }, { name: "Not mine" });
    assert.equal(refused.status, 403);
    assert.match(refused.body.error.message, /LATCHKEY_ORG_CREATION/);
    const made = await functions.call("POST", "/orgs", {
      authorization: `Bearer ${admin.token}`,
    }, { name: "Staff's" });
    assert.equal(made.status, 201);
    assert.equal(made.body.org.role, "owner");
  } finally {
    await functions.close();
  }
});

Deno.test("POST /orgs with an Idempotency-Key: a retry answers the same organization, made once", async () => {
  const owner = await signUp("org-idempotent");
  const key = crypto.randomUUID();
  const create = (name: string) =>
    call("POST", "/orgs", {
      token: owner.token,
      body: { name },
      headers: { "idempotency-key": key },
    });
  const [first, retried] = [await create("Made once"), await create("Made once")];
  assert.equal(first.status, 201, JSON.stringify(first.body));
  assert.equal(retried.status, 201);
  assert.deepEqual(retried.body, first.body);
  const reused = await create("Another name");
  assert.equal(reused.status, 409);
  assert.equal(errorOf(reused).code, "idempotency_key_reused");
  const [{ made }] = await withDatabase((sql) =>
    sql<{ made: number }[]>`
      select count(*)::int as made from latchkey.organizations where created_by = ${owner.id}`
  );
  assert.equal(made, 1);
});
