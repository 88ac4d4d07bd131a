import assert from "node:assert/strict";
import { asAdminKey, auditEventsFor, call, errorOf, signUp } from "../../support/http.ts";
import { addMember, createOrg, rolesIn } from "../../support/orgs.ts";

async function orgWithRoles() {
  const [owner, admin, member, other] = await Promise.all([
    signUp("members-owner"),
    signUp("members-admin"),
    signUp("members-member"),
    signUp("members-other"),
  ]);
  const orgId = await createOrg(owner, "Members");
  await addMember(orgId, admin.id, "admin");
  await addMember(orgId, member.id, "member");
  await addMember(orgId, other.id, "member");
  return { orgId, owner, admin, member, other };
}

const patchRole = (token: string, orgId: string, userId: string, role: string) =>
  call("PATCH", `/orgs/${orgId}/members/${userId}`, { token, body: { role } });

Deno.test("nobody raises a role above their own, nor touches a member above them", async () => {
  const { orgId, owner, admin, member, other } = await orgWithRoles();
  const before = await rolesIn(orgId);

  const selfPromotion = await patchRole(member.token, orgId, member.id, "admin");
  assert.equal(selfPromotion.status, 403, "a member escalating their own role");
  const byMember = await patchRole(member.token, orgId, other.id, "admin");
  assert.equal(byMember.status, 403);
  const adminToOwner = await patchRole(admin.token, orgId, admin.id, "owner");
  assert.equal(adminToOwner.status, 403, "an admin making themselves owner");
  const ownerByAdmin = await patchRole(admin.token, orgId, member.id, "owner");
  assert.equal(ownerByAdmin.status, 403, "an admin giving a role above their own");
  const demoteOwner = await patchRole(admin.token, orgId, owner.id, "member");
  assert.equal(demoteOwner.status, 403, "an admin demoting an owner");
  const removeOwner = await call("DELETE", `/orgs/${orgId}/members/${owner.id}`, {
    token: admin.token,
  });
  assert.equal(removeOwner.status, 403, "an admin removing an owner");
  const removeByMember = await call("DELETE", `/orgs/${orgId}/members/${other.id}`, {
    token: member.token,
  });
  assert.equal(removeByMember.status, 403);
  const inviteOwner = await call("POST", `/orgs/${orgId}/invitations`, {
    token: admin.token,
    body: { email: "someone@example.test", role: "owner" },
  });
  assert.equal(inviteOwner.status, 403, "an admin inviting to the owner role");
  assert.deepEqual(await rolesIn(orgId), before, "no refused request changed a role");

  const promoted = await patchRole(admin.token, orgId, member.id, "admin");
  assert.equal(promoted.status, 200);
  assert.equal(promoted.body.member.role, "admin");
  assert.equal(promoted.body.member.email, member.email);
  const [event] = await auditEventsFor(promoted.headers.get("x-request-id")!);
  assert.equal(event.action, "org.member_role_changed");
  assert.deepEqual(
    [event.metadata.userId, event.metadata.before, event.metadata.after],
    [member.id, "member", "admin"],
  );
  const removed = await call("DELETE", `/orgs/${orgId}/members/${other.id}`, {
    token: admin.token,
  });
  assert.equal(removed.status, 200);
  assert.equal(
    (await auditEventsFor(removed.headers.get("x-request-id")!))[0].action,
    "org.member_removed",
  );
  const otherLooks = await call("GET", `/orgs/${orgId}`, { token: other.token });
  assert.equal(otherLooks.status, 404, "a removed member sees the organization no more");
});

Deno.test("the last owner cannot leave or step down; ownership moves, then they may", async () => {
  const { orgId, owner, admin, member } = await orgWithRoles();
  const leave = await call("DELETE", `/orgs/${orgId}/members/${owner.id}`, { token: owner.token });
  assert.equal(leave.status, 409);
  assert.equal(errorOf(leave).code, "last_owner");
  const stepDown = await patchRole(owner.token, orgId, owner.id, "admin");
  assert.equal(stepDown.status, 409);
  assert.equal(errorOf(stepDown).code, "last_owner");
  const deleteAccount = await asAdminKey("DELETE", `/admin/users/${owner.id}`);
  assert.equal(
    deleteAccount.status,
    409,
    "nor does the account of an organization's only owner go",
  );
  assert.equal(errorOf(deleteAccount).code, "last_owner");

  const self = await call("POST", `/orgs/${orgId}/transfer`, {
    token: owner.token,
    body: { userId: owner.id },
  });
  assert.equal(self.status, 400);
  const byAdmin = await call("POST", `/orgs/${orgId}/transfer`, {
    token: admin.token,
    body: { userId: admin.id },
  });
  assert.equal(byAdmin.status, 400, "one's own id, again");
  const byAdminToMember = await call("POST", `/orgs/${orgId}/transfer`, {
    token: admin.token,
    body: { userId: member.id },
  });
  assert.equal(byAdminToMember.status, 403, "only an owner hands ownership on");

  const transferred = await call("POST", `/orgs/${orgId}/transfer`, {
    token: owner.token,
    body: { userId: member.id },
  });
  assert.equal(transferred.status, 200);
  assert.equal(transferred.body.org.role, "admin");
  const roles = await rolesIn(orgId);
  assert.equal(roles[member.id], "owner");
  assert.equal(roles[owner.id], "admin");
  const [event] = await auditEventsFor(transferred.headers.get("x-request-id")!);
  assert.equal(event.action, "org.ownership_transferred");

  const left = await call("DELETE", `/orgs/${orgId}/members/${owner.id}`, { token: owner.token });
  assert.equal(left.status, 200, "no longer the only owner, the former owner leaves");
  assert.equal(
    (await auditEventsFor(left.headers.get("x-request-id")!))[0].action,
    "org.member_left",
  );
  const newOwnerAlone = await call("DELETE", `/orgs/${orgId}/members/${member.id}`, {
    token: member.token,
  });
  assert.equal(newOwnerAlone.status, 409, "and the new one is the last owner now");
});

Deno.test("two owners demoting each other at once: one wins, the organization keeps an owner", async () => {
  for (let round = 0; round < 4; round++) {
    const [first, second] = await Promise.all([signUp("race-a"), signUp("race-b")]);
    const orgId = await createOrg(first, `Race ${round}`);
    await addMember(orgId, second.id, "owner");
    const [a, b] = await Promise.all([
      patchRole(first.token, orgId, second.id, "member"),
      patchRole(second.token, orgId, first.id, "member"),
    ]);
    // The loser is refused by the guard (409 last_owner) when both changes overlapped, or by
    // the policy (403) when the winner had committed before it began: no longer an owner.
    const statuses = [a.status, b.status].sort();
    assert.equal(statuses[0], 200, `round ${round}: ${a.status} ${b.status}`);
    assert.ok([403, 409].includes(statuses[1]), `round ${round}: ${a.status} ${b.status}`);
    const owners = Object.values(await rolesIn(orgId)).filter((role) => role === "owner");
    assert.equal(owners.length, 1, `round ${round}: exactly one owner left`);
  }
});

Deno.test("a suspended organization: members read it and change nothing; unsuspended, they can", async () => {
  const { orgId, owner, admin, member } = await orgWithRoles();
  const suspend = await asAdminKey("PATCH", `/admin/orgs/${orgId}`, {
    body: { suspended: true, suspensionReason: "billing" },
  });
  assert.equal(suspend.status, 200);
  assert.equal(suspend.body.org.suspended, true);
  const event = (await auditEventsFor(suspend.headers.get("x-request-id")!))
    .find((row) => row.action === "admin.org_updated")!;
  assert.ok(event, "audited as a ban is");
  assert.deepEqual(event.metadata.before, { suspended: false, suspensionReason: null });
  assert.deepEqual(event.metadata.after, { suspended: true, suspensionReason: "billing" });

  const read = await call("GET", `/orgs/${orgId}`, { token: member.token });
  assert.equal(read.status, 200);
  assert.equal(read.body.org.suspended, true);
  const members = await call("GET", `/orgs/${orgId}/members`, { token: member.token });
  assert.equal(members.status, 200);
  const before = await rolesIn(orgId);
  for (
    const [token, method, path, body] of [
      [owner.token, "PATCH", `/orgs/${orgId}`, { name: "Renamed" }],
      [owner.token, "DELETE", `/orgs/${orgId}`, undefined],
      [admin.token, "PATCH", `/orgs/${orgId}/members/${member.id}`, { role: "admin" }],
      [admin.token, "DELETE", `/orgs/${orgId}/members/${member.id}`, undefined],
      [member.token, "DELETE", `/orgs/${orgId}/members/${member.id}`, undefined],
      [owner.token, "POST", `/orgs/${orgId}/transfer`, { userId: admin.id }],
    ] as const
  ) {
    const result = await call(method, path, { token, body });
    assert.equal(result.status, 403, `${method} ${path}`);
    assert.equal(errorOf(result).code, "org_suspended", `${method} ${path}`);
  }
  assert.deepEqual(await rolesIn(orgId), before);

  const unsuspend = await asAdminKey("PATCH", `/admin/orgs/${orgId}`, {
    body: { suspended: false },
  });
  assert.equal(unsuspend.status, 200);
  assert.equal(unsuspend.body.org.suspensionReason, null);
  const renamed = await call("PATCH", `/orgs/${orgId}`, {
    token: owner.token,
    body: { name: "Back" },
  });
  assert.equal(renamed.status, 200);
});
