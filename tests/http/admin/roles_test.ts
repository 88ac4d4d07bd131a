import assert from "node:assert/strict";
import {
  asAdminKey,
  auditEventsFor,
  call,
  createAccount,
  createKey,
  createServiceAccount,
  errorOf,
  issueKey,
  type TestAccount,
  verifyKey,
} from "../../support/http.ts";
import { ageSecondFactor } from "../../support/step_up.ts";
import { seededRolePermissions } from "../../support/roles.ts";
import { addMember, createOrg, rolesIn } from "../../support/orgs.ts";

/**
 * Roles and permissions at runtime (issue 29, item 3): the team's permissions in the catalogue,
 * platform and organization roles made and changed through the admin API, given to accounts and
 * members, effective from the next request, and the reach rule everywhere: nobody grants,
 * assigns or changes a role beyond their own power. Names are unique per run: the worker's
 * database outlives this file, and other files' expectations rest on the built-in roles.
 */

const run = crypto.randomUUID().replaceAll("-", "").slice(0, 8);
const name = (prefix: string) => `${prefix}${run}`;

function requestIdOf(result: { headers: Headers }): string {
  return result.headers.get("x-request-id")!;
}

async function auditActions(result: { headers: Headers }): Promise<string[]> {
  return (await auditEventsFor(requestIdOf(result))).map((event) => event.action);
}

/** One admin for the file: accounts cost two password hashes and a factor each. */
let sharedAdmin: Promise<TestAccount> | undefined;
const theAdmin = () => sharedAdmin ??= createAccount("admin", "roles-admin");

async function permission(resource: string, action = "read"): Promise<string> {
  const permissionName = `${resource}:${action}`;
  const created = await asAdminKey("POST", "/admin/permissions", {
    body: { name: permissionName, description: `${action} ${resource}` },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return permissionName;
}

async function role(roleName: string, permissions: string[], token?: string) {
  const created = token
    ? await call("POST", "/admin/roles", { token, body: { name: roleName, permissions } })
    : await asAdminKey("POST", "/admin/roles", { body: { name: roleName, permissions } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.role;
}

Deno.test("the team's permissions: added, described, deleted when nobody holds them; Latchkey's never", async () => {
  const notes = `${name("notes")}:read`;
  const created = await asAdminKey("POST", "/admin/permissions", {
    body: { name: notes, description: "Read notes" },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.deepEqual(
    { ...created.body.permission, createdAt: undefined, updatedAt: undefined },
    {
      name: notes,
      description: "Read notes",
      builtIn: false,
      roles: ["admin"],
      createdAt: undefined,
      updatedAt: undefined,
    },
  );
  assert.deepEqual(await auditActions(created), ["admin_key.used", "permission.created"]);

  const again = await asAdminKey("POST", "/admin/permissions", {
    body: { name: notes, description: "Again" },
  });
  assert.equal(again.status, 409);
  assert.equal(errorOf(again).code, "already_exists");
  for (
    const [body, field] of [
      [{ name: "users:delete", description: "Looks like Latchkey's" }, "name"],
      [{ name: "Notes:Read", description: "Upper case" }, "name"],
      [{ name: "notes", description: "No action" }, "name"],
      [{ name: `${name("x")}:read`, description: "" }, "description"],
    ] as const
  ) {
    const refused = await asAdminKey("POST", "/admin/permissions", { body });
    assert.equal(refused.status, 400, JSON.stringify(body));
    assert.deepEqual(errorOf(refused).details?.map((detail) => detail.path), [field]);
  }

  const listed = await asAdminKey("GET", "/admin/permissions");
  assert.equal(listed.status, 200);
  const names = listed.body.permissions.map((entry: { name: string }) => entry.name);
  assert.equal(names[0], "audit:read", "Latchkey's own first, by name");
  assert.ok(names.includes(notes));
  assert.deepEqual(
    listed.body.permissions.find((entry: { name: string }) => entry.name === "roles:read").roles,
    ["admin", "support"],
  );

  for (const method of ["PATCH", "DELETE"]) {
    const builtIn = await asAdminKey(method, "/admin/permissions/users:read", {
      body: method === "PATCH" ? { description: "Mine now" } : undefined,
    });
    assert.equal(builtIn.status, 409, method);
    assert.equal(errorOf(builtIn).code, "built_in");
  }
  const described = await asAdminKey("PATCH", `/admin/permissions/${notes}`, {
    body: { description: "Read every note" },
  });
  assert.equal(described.status, 200);
  assert.equal(described.body.permission.description, "Read every note");
  assert.deepEqual(
    (await auditEventsFor(requestIdOf(described)))[1].metadata,
    { name: notes, description: { before: "Read notes", after: "Read every note" } },
  );

  // Held by a role, then by a live key: not deleted; the answer counts them.
  const holder = name("holder");
  await role(holder, [notes]);
  const heldByRole = await asAdminKey("DELETE", `/admin/permissions/${notes}`);
  assert.equal(heldByRole.status, 409);
  assert.equal(errorOf(heldByRole).code, "in_use");
  assert.match(errorOf(heldByRole).message, /held by 1 role\(s\) besides admin and 0 live key/);
  assert.equal((await asAdminKey("DELETE", `/admin/roles/${holder}`)).status, 200);
  const machine = await createServiceAccount("perm-key-holder");
  await asAdminKey("PATCH", `/admin/users/${machine}`, { body: { role: "admin" } });
  const key = await issueKey(machine, { name: "notes", scopes: [notes] });
  const heldByKey = await asAdminKey("DELETE", `/admin/permissions/${notes}`);
  assert.equal(heldByKey.status, 409);
  assert.match(errorOf(heldByKey).message, /0 role\(s\) besides admin and 1 live key/);
  assert.equal((await asAdminKey("POST", `/admin/keys/${key.id}/revoke`)).status, 200);
  await asAdminKey("PATCH", `/admin/users/${machine}`, { body: { role: "user" } });

  // The name may come percent-encoded, as a client library writes a colon in a path.
  const deleted = await asAdminKey("DELETE", `/admin/permissions/${encodeURIComponent(notes)}`);
  assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
  assert.deepEqual(deleted.body, { success: true, name: notes });
  assert.deepEqual(await auditActions(deleted), ["admin_key.used", "permission.deleted"]);
  for (const path of [notes, "no:such", "not a name", "%00"]) {
    const gone = await asAdminKey("DELETE", `/admin/permissions/${encodeURIComponent(path)}`);
    assert.equal(gone.status, 404, path);
  }
});

Deno.test("a custom role given to an account: its changes count on the holder's next request", async () => {
  const read = await permission(name("inv"), "read");
  const write = await permission(name("inv"), "write");
  const billing = name("billing");
  const admin = await theAdmin();

  const created = await call("POST", "/admin/roles", {
    token: admin.token,
    body: { name: billing, description: "Settles invoices", permissions: [read, read] },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.deepEqual(
    { ...created.body.role, createdAt: undefined, updatedAt: undefined },
    {
      name: billing,
      description: "Settles invoices",
      builtIn: false,
      permissions: [read],
      createdAt: undefined,
      updatedAt: undefined,
    },
  );
  const [event] = (await auditEventsFor(requestIdOf(created))).filter((row) =>
    row.action === "role.created"
  );
  assert.equal(event.actor_user_id, admin.id);
  assert.deepEqual(event.metadata, {
    name: billing,
    description: "Settles invoices",
    permissions: [read],
  });

  // A role holding only the team's permissions needs no second factor: a person's account.
  const holder = await createAccount(billing, "roles-holder", { secondFactor: false });
  const session = await call("GET", "/auth/session", { token: holder.token });
  assert.equal(session.body.user.role, billing);
  assert.deepEqual(session.body.permissions, [read]);
  const listed = await asAdminKey("GET", `/admin/users?role=${billing}`);
  assert.deepEqual(listed.body.users.map((user: { id: string }) => user.id), [holder.id]);

  // Keys: scopes within the role, validated against the catalogue (an unknown one is a 400
  // naming the field), and no step-up for the team's permissions.
  const own = await createKey(holder.token, { name: "mine", scopes: [read] });
  const beyond = await call("POST", "/keys", {
    token: holder.token,
    body: { name: "more", scopes: ["compile", write] },
  });
  assert.equal(beyond.status, 400);
  assert.deepEqual(errorOf(beyond).details?.map((detail) => detail.path), ["scopes.1"]);
  assert.equal(
    (await asAdminKey("POST", "/admin/keys", { body: { userId: holder.id, scopes: [write] } }))
      .status,
    400,
  );
  assert.equal((await verifyKey(own.key, read)).body.code, "VALID");

  // Taken from the role: the key loses it on its next use, the session on its next request.
  const narrowed = await call("PATCH", `/admin/roles/${billing}`, {
    token: admin.token,
    body: { permissions: [write] },
  });
  assert.equal(narrowed.status, 200, JSON.stringify(narrowed.body));
  assert.deepEqual(narrowed.body.role.permissions, [write]);
  const [updated] = (await auditEventsFor(requestIdOf(narrowed))).filter((row) =>
    row.action === "role.updated"
  );
  assert.deepEqual(updated.metadata, {
    name: billing,
    added: [write],
    removed: [read],
    description: { before: "Settles invoices", after: "Settles invoices" },
  });
  const lost = await verifyKey(own.key, read);
  assert.equal(lost.body.code, "INSUFFICIENT_SCOPE");
  assert.deepEqual(lost.body.scopes, []);
  assert.deepEqual(
    (await call("GET", "/auth/session", { token: holder.token })).body.permissions,
    [write],
  );
  assert.equal(
    (await call("POST", "/keys", { token: holder.token, body: { name: "w", scopes: [write] } }))
      .status,
    201,
  );
  // Given back: the key's scope counts again at once.
  const restored = await call("PATCH", `/admin/roles/${billing}`, {
    token: admin.token,
    body: { permissions: [read, write] },
  });
  assert.equal(restored.status, 200);
  assert.equal((await verifyKey(own.key, read)).body.code, "VALID");

  // One of Latchkey's permissions makes it an admin role: its sessions need a second factor
  // (the holder has none), from the next request on.
  const raised = await call("PATCH", `/admin/roles/${billing}`, {
    token: admin.token,
    body: { permissions: [read, write, "audit:read"] },
  });
  assert.equal(raised.status, 200);
  const gated = await call("GET", "/admin/audit", { token: holder.token });
  assert.equal(gated.status, 403);
  assert.equal(errorOf(gated).code, "mfa_required");
  assert.equal(
    (await asAdminKey("GET", `/admin/users/${holder.id}`)).body.user.secondFactors.required,
    true,
  );

  // Held: not deleted (409 counts the accounts); given back to user, gone.
  const held = await call("DELETE", `/admin/roles/${billing}`, { token: admin.token });
  assert.equal(held.status, 409);
  assert.equal(errorOf(held).code, "in_use");
  assert.match(errorOf(held).message, /held by 1 account/);
  const unknown = await call("PATCH", `/admin/users/${holder.id}`, {
    token: admin.token,
    body: { role: "no-such-role" },
  });
  assert.equal(unknown.status, 400);
  assert.deepEqual(errorOf(unknown).details?.map((detail) => detail.path), ["role"]);
  // The account goes (its keys with it): the role, then the permissions are nobody's.
  assert.equal((await asAdminKey("DELETE", `/admin/users/${holder.id}`)).status, 200);
  const deleted = await call("DELETE", `/admin/roles/${billing}`, { token: admin.token });
  assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
  assert.ok((await auditActions(deleted)).includes("role.deleted"));
  assert.equal(
    (await call("DELETE", `/admin/roles/${billing}`, { token: admin.token })).status,
    404,
  );
  for (const permissionName of [read, write]) {
    const gone = await asAdminKey("DELETE", `/admin/permissions/${permissionName}`);
    assert.equal(gone.status, 200, JSON.stringify(gone.body));
  }
});

Deno.test("the reach rule: a role writer grants, changes and gives nothing beyond its own power", async () => {
  // A custom role that writes roles and users, and lacks the rest of admin's power.
  const manager = name("rolemgr");
  await role(manager, ["roles:read", "roles:write", "users:read", "users:write"]);
  // It holds Latchkey permissions: its session needs a second factor (createAccount verifies one).
  const rob = await createAccount(manager, "roles-manager", { secondFactor: true });
  const support = await createAccount("support", "roles-support");
  const user = await createAccount("user", "roles-user");
  const asRob = (method: string, path: string, body?: unknown) =>
    call(method, path, { token: rob.token, body });

  const refusals: [string, string, unknown, number, string, RegExp?][] = [
    [
      "POST",
      "/admin/roles",
      { name: name("wide"), permissions: ["keys:write"] },
      403,
      "forbidden",
      /lacks keys:write/,
    ],
    [
      "PATCH",
      `/admin/roles/${manager}`,
      {
        permissions: ["roles:read", "roles:write", "users:read", "users:write", "keys:write"],
      },
      403,
      "forbidden",
      /lacks keys:write/,
    ],
    [
      "PATCH",
      "/admin/roles/support",
      { description: "Mine" },
      403,
      "forbidden",
      /^Changing the role support needs .* lacks .*keys:revoke/,
    ],
    ["PATCH", "/admin/roles/support", { permissions: [] }, 403, "forbidden"],
    ["DELETE", "/admin/roles/support", undefined, 403, "forbidden"],
    ["PATCH", "/admin/roles/admin", { permissions: [] }, 403, "forbidden"],
    ["PATCH", `/admin/users/${user.id}`, { role: "admin" }, 403, "forbidden"],
    ["PATCH", `/admin/users/${user.id}`, { role: "support" }, 403, "forbidden"],
    [
      "POST",
      "/admin/org-roles",
      { name: name("org"), permissions: [] },
      403,
      "forbidden",
      /orgs:write/,
    ],
  ];
  // A team's permission Rob does not hold: only admin does (it holds every one).
  const ledger = await permission(name("ledger"), "write");
  refusals.push(
    ["DELETE", `/admin/permissions/${ledger}`, undefined, 403, "forbidden", /lacks ledger/],
    [
      "PATCH",
      `/admin/permissions/${ledger}`,
      { description: "Harmless, really" },
      403,
      "forbidden",
    ],
  );
  for (const [method, path, body, status, code, message] of refusals) {
    const refused = await asRob(method, path, body);
    assert.equal(refused.status, status, `${method} ${path}: ${JSON.stringify(refused.body)}`);
    assert.equal(errorOf(refused).code, code);
    if (message) assert.match(errorOf(refused).message, message);
  }
  // Within its power it works: a narrower role, made and given.
  const clerk = name("clerk");
  await role(clerk, ["users:read"], rob.token);
  const given = await asRob("PATCH", `/admin/users/${user.id}`, { role: clerk });
  assert.equal(given.status, 200, JSON.stringify(given.body));

  // Its own key, scoped to roles:write alone, holds less than its role: it grants even less.
  const robKey = await issueKey(rob.id, { name: "roles only", scopes: ["roles:write"] });
  const viaKey = await call("POST", "/admin/roles", {
    headers: { "x-api-key": robKey.key },
    body: { name: name("keyed"), permissions: ["users:read"] },
  });
  assert.equal(viaKey.status, 403);
  assert.match(errorOf(viaKey).message, /lacks users:read/);

  // Adding a permission is a step-up; taking one away is not.
  await ageSecondFactor(rob.sessionId, 11);
  const stale = await asRob("PATCH", `/admin/roles/${clerk}`, {
    permissions: ["users:read", "users:write"],
  });
  assert.equal(stale.status, 403);
  assert.equal(errorOf(stale).code, "step_up_required");
  assert.equal((await asRob("PATCH", `/admin/roles/${clerk}`, { permissions: [] })).status, 200);

  // Support reads roles and writes none; a user does neither.
  assert.equal((await call("GET", "/admin/roles", { token: support.token })).status, 200);
  for (const token of [support.token, user.token]) {
    const attempt = await call("POST", "/admin/roles", {
      token,
      body: { name: name("sneaky"), permissions: ["users:write"] },
    });
    assert.equal(attempt.status, 403);
    assert.equal(errorOf(attempt).message, "This needs the roles:write permission.");
  }
  assert.equal((await call("GET", "/admin/roles", { token: user.token })).status, 403);

  // The built-in roles: listed first with their sets; never deleted; admin's set fixed.
  const listed = await asAdminKey("GET", "/admin/roles");
  assert.deepEqual(
    listed.body.roles.slice(0, 3).map((entry: { name: string }) => entry.name),
    ["admin", "support", "user"],
  );
  assert.deepEqual(
    listed.body.roles[1].permissions,
    [...seededRolePermissions.support].sort(),
  );
  for (
    const [method, path, body] of [
      ["DELETE", "/admin/roles/user", undefined],
      ["PATCH", "/admin/roles/admin", { permissions: ["users:read"] }],
    ] as const
  ) {
    const refused = await asAdminKey(method, path, { body });
    assert.equal(refused.status, 409, path);
    assert.equal(errorOf(refused).code, "built_in");
  }
  // Cleaned up: the worker's database goes on to other files.
  for (const account of [user, rob]) {
    await asAdminKey("PATCH", `/admin/users/${account.id}`, { body: { role: "user" } });
  }
  for (const roleName of [clerk, manager]) {
    assert.equal((await asAdminKey("DELETE", `/admin/roles/${roleName}`)).status, 200);
  }
  assert.equal((await asAdminKey("DELETE", `/admin/permissions/${ledger}`)).status, 200);
});

Deno.test("organization roles: custom ones given within the organization's reach", async () => {
  const owner: TestAccount = await createAccount("user", "org-roles-owner");
  const member = await createAccount("user", "org-roles-member");
  const orgId = await createOrg(owner, "Custom roles");
  await addMember(orgId, member.id, "member");
  const admin = await theAdmin();

  const invoicing = name("invoicing");
  const created = await call("POST", "/admin/org-roles", {
    token: admin.token,
    body: { name: invoicing, permissions: ["org:read", "members:invite"] },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.ok((await auditActions(created)).includes("org_role.created"));
  const listed = await call("GET", "/admin/org-roles", { token: admin.token });
  assert.deepEqual(
    listed.body.roles.slice(0, 3).map((entry: { name: string }) => entry.name),
    ["admin", "member", "owner"],
  );
  assert.ok(
    listed.body.permissions.some((entry: { name: string }) => entry.name === "members:invite"),
  );
  const unknownPermission = await call("POST", "/admin/org-roles", {
    token: admin.token,
    body: { name: name("bad"), permissions: ["users:read"] },
  });
  assert.equal(unknownPermission.status, 400);
  assert.deepEqual(errorOf(unknownPermission).details?.map((d) => d.path), ["permissions.0"]);

  // The owner gives it; the member then holds what it holds, in this organization.
  const given = await call("PATCH", `/orgs/${orgId}/members/${member.id}`, {
    token: owner.token,
    body: { role: invoicing },
  });
  assert.equal(given.status, 200, JSON.stringify(given.body));
  assert.equal((await rolesIn(orgId))[member.id], invoicing);
  const seen = await call("GET", `/orgs/${orgId}`, { token: member.token });
  assert.deepEqual(seen.body.org.permissions, ["members:invite", "org:read"]);
  const noSuch = await call("PATCH", `/orgs/${orgId}/members/${member.id}`, {
    token: owner.token,
    body: { role: "no-such-role" },
  });
  assert.equal(noSuch.status, 400);
  assert.deepEqual(errorOf(noSuch).details?.map((detail) => detail.path), ["role"]);

  // Changed by the staff: effective in every organization at the next request.
  const changed = await call("PATCH", `/admin/org-roles/${invoicing}`, {
    token: admin.token,
    body: { permissions: ["org:read"] },
  });
  assert.equal(changed.status, 200);
  const after = await call("GET", `/orgs/${orgId}`, { token: member.token });
  assert.deepEqual(after.body.org.permissions, ["org:read"]);

  for (
    const [method, path, body, code] of [
      ["DELETE", `/admin/org-roles/${invoicing}`, undefined, "in_use"],
      ["DELETE", "/admin/org-roles/member", undefined, "built_in"],
      ["PATCH", "/admin/org-roles/owner", { permissions: ["org:read"] }, "built_in"],
    ] as const
  ) {
    const refused = await call(method, path, { token: admin.token, body });
    assert.equal(refused.status, 409, `${method} ${path}`);
    assert.equal(errorOf(refused).code, code);
  }
  await call("PATCH", `/orgs/${orgId}/members/${member.id}`, {
    token: owner.token,
    body: { role: "member" },
  });
  const deleted = await call("DELETE", `/admin/org-roles/${invoicing}`, { token: admin.token });
  assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
  assert.ok((await auditActions(deleted)).includes("org_role.deleted"));
});
