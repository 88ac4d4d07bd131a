import assert from "node:assert/strict";
import { asAdminKey, call, createAccount, createKey, errorOf, signUp } from "../../support/http.ts";
import { addMember, createOrg } from "../../support/orgs.ts";

Deno.test("admin twins: list with q and suspended filters in cursor pages, one, its members", async () => {
  const owner = await signUp("admin-orgs-owner");
  const member = await signUp("admin-orgs-member");
  const tag = crypto.randomUUID().slice(0, 8);
  const ids = [];
  for (const name of [`Alpha ${tag}`, `Bravo ${tag}`, `Charlie ${tag}`]) {
    ids.push(await createOrg(owner, name));
  }
  await addMember(ids[0], member.id, "member");
  const suspended = await asAdminKey("PATCH", `/admin/orgs/${ids[1]}`, {
    body: { suspended: true },
  });
  assert.equal(suspended.status, 200);

  const firstPage = await asAdminKey("GET", `/admin/orgs?q=${tag}&limit=2`);
  assert.equal(firstPage.status, 200);
  assert.deepEqual(firstPage.body.orgs.map((o: { id: string }) => o.id), [ids[2], ids[1]]);
  const secondPage = await asAdminKey(
    "GET",
    `/admin/orgs?q=${tag}&limit=2&cursor=${firstPage.body.nextCursor}`,
  );
  assert.deepEqual(secondPage.body.orgs.map((o: { id: string }) => o.id), [ids[0]]);
  assert.equal(secondPage.body.nextCursor, null);
  const bySlug = await asAdminKey("GET", `/admin/orgs?q=${`bravo-${tag}`.toUpperCase()}`);
  assert.deepEqual(bySlug.body.orgs.map((o: { id: string }) => o.id), [ids[1]], "q on the slug");
  const onlySuspended = await asAdminKey("GET", `/admin/orgs?q=${tag}&suspended=true`);
  assert.deepEqual(onlySuspended.body.orgs.map((o: { id: string }) => o.id), [ids[1]]);
  const active = await asAdminKey("GET", `/admin/orgs?q=${tag}&suspended=false`);
  assert.deepEqual(active.body.orgs.map((o: { id: string }) => o.id), [ids[2], ids[0]]);

  const one = await asAdminKey("GET", `/admin/orgs/${ids[0]}`);
  assert.equal(one.status, 200);
  assert.equal(one.body.org.members, 2);
  assert.equal(one.body.org.createdBy, owner.id);
  const members = await asAdminKey("GET", `/admin/orgs/${ids[0]}/members`);
  assert.deepEqual(
    members.body.members.map((m: { userId: string; role: string }) => [m.userId, m.role]),
    [[member.id, "member"], [owner.id, "owner"]],
  );
  const nobody = await asAdminKey("GET", `/admin/orgs/${crypto.randomUUID()}`);
  assert.equal(nobody.status, 404);
});

Deno.test("admin twins: support reads (orgs:read) and cannot suspend; a user reaches none", async () => {
  const owner = await signUp("twins-owner");
  const orgId = await createOrg(owner, "Twins");
  const support = await createAccount("support", "twins-support");
  const read = await call("GET", `/admin/orgs/${orgId}`, { token: support.token });
  assert.equal(read.status, 200);
  const members = await call("GET", `/admin/orgs/${orgId}/members`, { token: support.token });
  assert.equal(members.status, 200);
  const suspend = await call("PATCH", `/admin/orgs/${orgId}`, {
    token: support.token,
    body: { suspended: true },
  });
  assert.equal(suspend.status, 403);
  assert.match(errorOf(suspend).message, /orgs:write/);

  // The owner of the organization is no platform staff.
  const byOwner = await call("GET", "/admin/orgs", { token: owner.token });
  assert.equal(byOwner.status, 403);
  const admin = await createAccount("admin", "twins-admin");
  const readOnly = await createKey(admin.token, { name: "orgs reader", scopes: ["orgs:read"] });
  const byKey = await call("PATCH", `/admin/orgs/${orgId}`, {
    headers: { "x-api-key": readOnly.key },
    body: { suspended: true },
  });
  assert.equal(byKey.status, 403, "an orgs:read key suspends nothing");
  const listed = await call("GET", `/admin/orgs/${orgId}`, {
    headers: { "x-api-key": readOnly.key },
  });
  assert.equal(listed.status, 200);
  assert.equal(listed.body.org.suspended, false);
  const reason = await asAdminKey("PATCH", `/admin/orgs/${orgId}`, {
    body: { suspended: false, suspensionReason: "why" },
  });
  assert.equal(reason.status, 400, "a reason goes with a suspension");
});
