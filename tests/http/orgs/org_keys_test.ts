import assert from "node:assert/strict";
import {
  asAdminKey,
  auditEventsFor,
  call,
  type CallResult,
  createKey,
  errorOf,
  issueKey,
  minutesTouched,
  signUp,
  uniqueEmail,
  verifyKey,
  withDatabase,
} from "../../support/http.ts";
import {
  addMember,
  createOrg,
  createOrgKey,
  insertOrg,
  insertOrgKey,
  insertTeamPermission,
} from "../../support/orgs.ts";

/**
 * Keys an organization owns (issue 29, item 2): the personal keys' whole lifecycle with the
 * organization as the owner, managed by its owners and admins only, outliving their creator,
 * stopped while the organization is suspended and bound by what it may let its keys hold.
 */

/** The request's audit event of `action` (an X-Admin-Key request also records its use). */
async function eventOf(result: CallResult, action: string) {
  const events = await auditEventsFor(result.headers.get("x-request-id")!);
  const found = events.filter((event) => event.action === action);
  assert.equal(found.length, 1, JSON.stringify(events));
  return found[0];
}

/** What `GET /orgs/:id` says the caller may put on the organization's keys (`keyScopes`). */
async function keyScopesOf(token: string, orgId: string): Promise<string[] | null> {
  const read = await call("GET", `/orgs/${orgId}`, { token });
  assert.equal(read.status, 200);
  return read.body.org.keyScopes;
}

Deno.test("an organization's key lives the whole key lifecycle, each step audited with its organization", async () => {
  const owner = await signUp("orgkey-owner");
  const admin = await signUp("orgkey-admin");
  const orgId = await createOrg(owner, "Keyed");
  await addMember(orgId, admin.id, "admin");

  const created = await call("POST", `/orgs/${orgId}/keys`, {
    token: owner.token,
    body: { name: "production", rateLimitPerMinute: 10, metadata: { env: "prod" } },
  });
  assert.equal(created.status, 201);
  const first = created.body;
  assert.deepEqual(
    [first.ownerType, first.orgId, first.userId, first.createdBy, first.scopes],
    ["org", orgId, null, owner.id, ["compile"]],
  );
  const made = await eventOf(created, "org.key_created");
  assert.equal(made.actor_user_id, owner.id);
  assert.equal(made.metadata.orgId, orgId);

  const verified = await verifyKey(first.key);
  const { rateLimit: _, ...answer } = verified.body;
  assert.deepEqual(answer, {
    valid: true,
    code: "VALID",
    keyId: first.id,
    userId: null,
    orgId,
    scopes: ["compile"],
    remaining: null,
    metadata: { env: "prod" },
    cacheSeconds: null,
    message: null,
  });
  // As a credential it is the organization's, no person's: no user, no staff permission, no
  // keys of its own under /keys; its Data API token speaks for the organization
  // (tests/http/orgs/org_token_claims_test.ts).
  const asKey = { headers: { "x-api-key": first.key } };
  const whoAmI = await call("GET", "/auth/session", asKey);
  assert.equal(whoAmI.status, 200);
  assert.deepEqual(
    [whoAmI.body.user, whoAmI.body.apiKey, whoAmI.body.permissions],
    [null, { id: first.id, scopes: ["compile"], orgId }, []],
  );
  assert.deepEqual((await call("GET", "/keys", asKey)).body.keys, []);

  // Rotation with an overlap, by an org admin: both secrets work, on the new key's budget.
  const rotated = await call("POST", `/orgs/${orgId}/keys/${first.id}/rotate`, {
    token: admin.token,
    body: { overlapSeconds: 3600 },
  });
  assert.equal(rotated.status, 201);
  const second = rotated.body;
  assert.deepEqual(
    [second.ownerType, second.orgId, second.createdBy, second.previousKey.id],
    ["org", orgId, admin.id, first.id],
  );
  assert.equal((await eventOf(rotated, "org.key_rotated")).metadata.orgId, orgId);
  assert.equal((await verifyKey(first.key)).body.code, "VALID", "the old key in its overlap");
  assert.equal((await verifyKey(second.key)).body.code, "VALID");

  // Credits and a rate limit, which only the platform's key writers set, bind it as any key.
  // Eight uses at 10 a minute put the limiter 48 s ahead; at 1 a minute the next is refused.
  await asAdminKey("PATCH", `/admin/keys/${second.id}`, { body: { remaining: 1 } });
  const credited = await verifyKey(second.key);
  assert.deepEqual([credited.body.code, credited.body.remaining], ["VALID", 0]);
  assert.equal((await verifyKey(second.key)).body.code, "USAGE_EXCEEDED");
  await asAdminKey("PATCH", `/admin/keys/${second.id}`, {
    body: { remaining: null, rateLimitPerMinute: 1 },
  });
  const limited = await verifyKey(second.key);
  assert.equal(limited.status, 429);
  assert.equal(limited.body.code, "RATE_LIMITED");

  const usage = await call("GET", `/orgs/${orgId}/keys/${second.id}/usage`, {
    token: admin.token,
  });
  assert.equal(usage.status, 200);
  const sum = (field: string) =>
    usage.body.buckets.reduce(
      (total: number, bucket: Record<string, number>) => total + bucket[field],
      0,
    );
  assert.deepEqual(
    [sum("valid"), sum("rateLimited"), sum("rejected")],
    [2, 1, 1],
    "its own checks: two valid, one out of credits, one over its limit",
  );
  const read = await call("GET", `/orgs/${orgId}/keys/${second.id}`, { token: owner.token });
  assert.ok(Date.parse(read.body.lastUsedAt) <= Date.now(), "last use is recorded");
  const listed = await call("GET", `/orgs/${orgId}/keys?limit=1`, { token: admin.token });
  assert.deepEqual(listed.body.keys.map((key: { id: string }) => key.id), [second.id]);
  const rest = await call("GET", `/orgs/${orgId}/keys?cursor=${listed.body.nextCursor}`, {
    token: admin.token,
  });
  assert.deepEqual(rest.body.keys.map((key: { id: string }) => key.id), [first.id]);

  const disabled = await call("PATCH", `/orgs/${orgId}/keys/${second.id}`, {
    token: admin.token,
    body: { name: "production (rotated)", enabled: false },
  });
  assert.equal(disabled.status, 200);
  assert.equal(disabled.body.enabled, false);
  assert.equal((await eventOf(disabled, "org.key_updated")).metadata.orgId, orgId);
  assert.equal((await verifyKey(second.key)).body.code, "DISABLED");

  // Expiry, as for any key: made to expire in a day, then a day later.
  const expiring = await createOrgKey(owner.token, orgId, { name: "temp", expiresInDays: 1 });
  await withDatabase((sql) =>
    sql`update latchkey.api_keys set expires_at = now() - interval '1 second'
        where id = ${expiring.id}`
  );
  assert.equal((await verifyKey(expiring.key)).body.code, "EXPIRED");

  // A leaked key reported by whoever found it; the other revoked by its organization.
  const leaked = await call("POST", "/keys/revoke-leaked", { body: { key: second.key } });
  assert.equal(leaked.status, 202);
  assert.equal((await verifyKey(second.key)).body.code, "REVOKED");
  const report = await eventOf(leaked, "api_key.revoked_as_leaked");
  assert.deepEqual([report.metadata.orgId, report.metadata.ownerId], [orgId, null]);
  const revoked = await call("DELETE", `/orgs/${orgId}/keys/${first.id}`, { token: owner.token });
  assert.equal(revoked.status, 200);
  assert.equal((await eventOf(revoked, "org.key_revoked")).metadata.orgId, orgId);
  assert.equal((await verifyKey(first.key)).body.code, "REVOKED");
});

Deno.test("an organization's keys are its key managers' alone: members 403, others 404", async () => {
  const owner = await signUp("orgkey-iso-owner");
  const member = await signUp("orgkey-iso-member");
  const other = await signUp("orgkey-iso-other");
  const orgId = await createOrg(owner, "Guarded");
  const otherOrgId = await createOrg(other, "Elsewhere");
  await addMember(orgId, member.id, "member");
  const key = await createOrgKey(owner.token, orgId, { name: "guarded" });
  const routes = (org: string) =>
    [
      ["GET", `/orgs/${org}/keys/${key.id}`, undefined],
      ["PATCH", `/orgs/${org}/keys/${key.id}`, { name: "taken over" }],
      ["DELETE", `/orgs/${org}/keys/${key.id}`, undefined],
      ["POST", `/orgs/${org}/keys/${key.id}/rotate`, {}],
      ["GET", `/orgs/${org}/keys/${key.id}/usage`, undefined],
    ] as const;

  for (
    const [method, path, body] of [
      ["GET", `/orgs/${orgId}/keys`, undefined],
      ["POST", `/orgs/${orgId}/keys`, { name: "mine" }],
      ...routes(orgId),
    ] as const
  ) {
    const byMember = await call(method, path, { token: member.token, body });
    assert.equal(byMember.status, 403, `member: ${method} ${path}`);
    assert.match(errorOf(byMember).message, /keys:(read|write)/);
    const byOutsider = await call(method, path, { token: other.token, body });
    assert.equal(byOutsider.status, 404, `outsider: ${method} ${path}`);
  }
  // The key of one organization through another's routes, by that one's owner: nobody's.
  for (const [method, path, body] of routes(otherOrgId)) {
    const crossed = await call(method, path, { token: other.token, body });
    assert.equal(crossed.status, 404, `${method} ${path}`);
  }
  const personal = await createKey(owner.token, { name: "owner's own" });
  const byPersonalKey = await call("GET", `/orgs/${orgId}/keys`, {
    headers: { "x-api-key": personal.key },
  });
  assert.equal(errorOf(byPersonalKey).code, "interactive_session_required");
  const byOrgKey = await call("GET", "/admin/keys", { headers: { "x-api-key": key.key } });
  assert.equal(byOrgKey.status, 403, "an organization's key holds no staff permission");
  // Not even one whose row and ceiling name a staff permission (written past the API).
  const planted = await insertOrgKey(await insertOrg(["keys:read"]), ["keys:read"]);
  const byPlanted = await call("GET", "/admin/keys", { headers: { "x-api-key": planted.key } });
  assert.equal(byPlanted.status, 403);
  assert.deepEqual((await verifyKey(planted.key)).body.scopes, []);

  assert.equal(await keyScopesOf(member.token, orgId), null, "offered to key writers only");
  assert.equal((await verifyKey(key.key)).body.code, "VALID");
  const [row] = await withDatabase((sql) =>
    sql`select name, revoked_at, replaced_by from latchkey.api_keys where id = ${key.id}`
  );
  assert.deepEqual({ ...row }, { name: "guarded", revoked_at: null, replaced_by: null });
});

Deno.test("an organization's key outlives its creator, stops while suspended, and its ceiling binds at once", async () => {
  const owner = await signUp("orgkey-life-owner");
  const creator = await signUp("orgkey-life-creator");
  const orgId = await createOrg(owner, "Enduring");
  await addMember(orgId, creator.id, "admin");
  const key = await createOrgKey(creator.token, orgId, { name: "made by a colleague" });

  const removed = await call("DELETE", `/orgs/${orgId}/members/${creator.id}`, {
    token: owner.token,
  });
  assert.equal(removed.status, 200);
  assert.equal((await verifyKey(key.key)).body.code, "VALID", "after its creator left");
  assert.equal((await asAdminKey("DELETE", `/admin/users/${creator.id}`)).status, 200);
  assert.equal((await verifyKey(key.key)).body.code, "VALID", "after the account went");
  const kept = await call("GET", `/orgs/${orgId}/keys/${key.id}`, { token: owner.token });
  assert.equal(kept.body.createdBy, null);

  // Suspended: every check is refused, audited once a minute per key as a ban's are.
  const suspended = await asAdminKey("PATCH", `/admin/orgs/${orgId}`, {
    body: { suspended: true },
  });
  assert.equal(suspended.status, 200);
  const [checks, minutes] = await minutesTouched(() =>
    Promise.all([
      verifyKey(key.key),
      verifyKey(key.key),
      call("GET", "/auth/session", { headers: { "x-api-key": key.key } }),
    ])
  );
  for (const check of checks.slice(0, 2)) {
    assert.deepEqual(
      [check.body.valid, check.body.code, check.body.orgId],
      [false, "ORG_SUSPENDED", orgId],
    );
  }
  assert.equal(errorOf(checks[2]).code, "org_suspended");
  const refusals = await withDatabase((sql) =>
    sql<{ metadata: Record<string, unknown> }[]>`
      select metadata from latchkey.audit_events
      where action = 'api_key.rejected' and target_id = ${key.id}`
  );
  assert.ok(refusals.length >= 1 && refusals.length <= minutes, `${refusals.length} rows`);
  assert.deepEqual(
    [refusals[0].metadata.reason, refusals[0].metadata.orgId],
    ["ORG_SUSPENDED", orgId],
  );
  const refusedKey = await call("POST", `/orgs/${orgId}/keys`, {
    token: owner.token,
    body: { name: "during" },
  });
  assert.equal(errorOf(refusedKey).code, "org_suspended");
  await asAdminKey("PATCH", `/admin/orgs/${orgId}`, { body: { suspended: false } });
  assert.equal((await verifyKey(key.key)).body.code, "VALID", "unsuspended");

  // The ceiling narrowed to nothing: the key keeps working, its scopes no longer count.
  const narrowed = await asAdminKey("PATCH", `/admin/orgs/${orgId}`, {
    body: { keyPermissions: [] },
  });
  assert.deepEqual(narrowed.body.org.keyPermissions, []);
  const ceilingEvent = await eventOf(narrowed, "admin.org_updated");
  assert.deepEqual(
    [ceilingEvent.metadata.before, ceilingEvent.metadata.after],
    [
      { suspended: false, suspensionReason: null, keyPermissions: null },
      { suspended: false, suspensionReason: null, keyPermissions: [] },
    ],
  );
  assert.deepEqual((await verifyKey(key.key)).body.scopes, []);
  assert.equal((await verifyKey(key.key, "compile")).body.code, "INSUFFICIENT_SCOPE");
  assert.deepEqual(await keyScopesOf(owner.token, orgId), [], "what a creating form offers");
  const beyond = await call("POST", `/orgs/${orgId}/keys`, {
    token: owner.token,
    body: { name: "compiler", scopes: ["compile"] },
  });
  assert.equal(beyond.status, 400);
  assert.deepEqual(errorOf(beyond).details?.map((detail) => detail.path), ["scopes.0"]);

  // Staff set it within their own power: an orgs:write key cannot grant the team's permission it
  // lacks, and nobody lets an organization's keys hold Latchkey's own (a staff power).
  const teamPermission = await insertTeamPermission();
  const staff = await asAdminKey("POST", "/admin/users", {
    body: {
      email: uniqueEmail("orgkey-staff"),
      name: "Staff",
      role: "admin",
      serviceAccount: true,
    },
  });
  const staffKey = await issueKey(staff.body.user.id, { scopes: ["orgs:read", "orgs:write"] });
  const asStaff = (keyPermissions: unknown) =>
    call("PATCH", `/admin/orgs/${orgId}`, {
      headers: { "x-api-key": staffKey.key },
      body: { keyPermissions },
    });
  const overreach = await asStaff(["compile", teamPermission]);
  assert.equal(overreach.status, 403);
  assert.ok(errorOf(overreach).message.includes(teamPermission));
  const unknown = await asStaff(["compile", "teleport", "orgs:read"]);
  assert.deepEqual(
    errorOf(unknown).details?.map((detail) => detail.path),
    ["keyPermissions.1", "keyPermissions.2"],
  );
  assert.match(errorOf(unknown).details![1].message, /Latchkey's own/);
  const withTeams = await asAdminKey("PATCH", `/admin/orgs/${orgId}`, {
    body: { keyPermissions: ["compile", teamPermission] },
  });
  assert.deepEqual(withTeams.body.org.keyPermissions, ["compile", teamPermission]);
  assert.deepEqual(await keyScopesOf(owner.token, orgId), ["compile", teamPermission]);
  // A member whose platform role lacks it makes no key holding it (nobody grants what they lack).
  const lacking = await call("POST", `/orgs/${orgId}/keys`, {
    token: owner.token,
    body: { name: "writer", scopes: [teamPermission] },
  });
  assert.equal(lacking.status, 403, JSON.stringify(lacking.body));
  assert.ok(errorOf(lacking).message.includes(teamPermission));
  const restored = await asStaff(null);
  assert.equal(restored.status, 200);
  assert.deepEqual((await verifyKey(key.key)).body.scopes, ["compile"], "the default again");
  assert.ok((await keyScopesOf(owner.token, orgId))?.includes("compile"));

  // The platform's key lists show each key's owner, and filter by organization.
  const personal = await createKey(owner.token, { name: "personal" });
  const byOrg = await asAdminKey("GET", `/admin/keys?orgId=${orgId}`);
  assert.deepEqual(
    byOrg.body.keys.map((k: { id: string; ownerType: string }) => [k.id, k.ownerType]),
    [[key.id, "org"]],
  );
  const byUser = await asAdminKey("GET", `/admin/keys?userId=${owner.id}`);
  assert.deepEqual(
    byUser.body.keys.map((k: { id: string; ownerType: string; orgId: string | null }) => [
      k.id,
      k.ownerType,
      k.orgId,
    ]),
    [[personal.id, "user", null]],
  );
});
