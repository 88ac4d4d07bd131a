import assert from "node:assert/strict";
import {
  auditEventsFor,
  call,
  createAccount,
  enrolTotp,
  errorOf,
  issueKey,
  signIn,
  signUp,
} from "../../support/http.ts";
import { ageSecondFactor } from "../../support/step_up.ts";

/** The admin twins of the factor routes (issue 28, item 6): list an account's, reset them. */

Deno.test("admin twins: support lists an account's factors (no secrets), an admin resets them", async () => {
  const owner = await signUp("factors-owner");
  const factor = await enrolTotp(owner);
  const support = await createAccount("support", "factors-support");
  const admin = await createAccount("admin", "factors-admin");

  const listed = await call("GET", `/admin/users/${owner.id}/factors`, { token: support.token });
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  assert.equal(listed.body.recoveryCodesLeft, 10);
  assert.deepEqual(
    listed.body.factors.map((
      f: { id: string; type: string; confirmed: boolean },
    ) => [f.id, f.type, f.confirmed]),
    [[factor.factorId, "totp", true]],
  );
  assert.ok(!JSON.stringify(listed.body).includes(factor.secret), "never the secret");
  assert.deepEqual(Object.keys(listed.body.factors[0]).sort(), [
    "confirmed",
    "createdAt",
    "id",
    "lastUsedAt",
    "name",
    "type",
  ]);
  const nobody = await call("GET", `/admin/users/${crypto.randomUUID()}/factors`, {
    token: support.token,
  });
  assert.equal(nobody.status, 404);
  // Support reads; only users:write resets.
  const bySupport = await call("DELETE", `/admin/users/${owner.id}/factors`, {
    token: support.token,
  });
  assert.equal(bySupport.status, 403);
  assert.equal(errorOf(bySupport).code, "forbidden");

  const reset = await call("DELETE", `/admin/users/${owner.id}/factors`, { token: admin.token });
  assert.equal(reset.status, 200, JSON.stringify(reset.body));
  assert.deepEqual(reset.body, {
    success: true,
    factorsRemoved: 1,
    recoveryCodesRemoved: 10,
    revokedSessions: 1,
  });
  const [event] = await auditEventsFor(reset.headers.get("x-request-id")!);
  assert.equal(event.action, "admin.factors_reset");
  assert.equal(event.actor_user_id, admin.id);
  assert.equal(event.target_id, owner.id);
  assert.deepEqual(event.metadata, {
    factorsRemoved: 1,
    recoveryCodesRemoved: 10,
    revokedSessions: 1,
  });

  // The owner's session is gone; the password alone signs in again (a session, no challenge).
  const revoked = await call("GET", "/auth/session", { token: owner.token });
  assert.equal(revoked.status, 401);
  const signedIn = await signIn(owner.email, owner.password);
  assert.equal(signedIn.status, 200);
  assert.ok(signedIn.body.session, JSON.stringify(signedIn.body));
  const after = await call("GET", `/admin/users/${owner.id}/factors`, { token: support.token });
  assert.deepEqual(after.body, { factors: [], recoveryCodesLeft: 0 });
});

Deno.test("admin twins: a reset needs reach and a step-up", async () => {
  const victim = await createAccount("admin", "factors-victim");
  const factor = victim.totp!;
  const admin = await createAccount("admin", "factors-stale");

  // An admin's key holding users:write but not every permission of an admin: beyond its reach.
  const narrow = await issueKey(admin.id, {
    name: "narrow",
    scopes: ["users:write", "users:read"],
  });
  const beyond = await call("DELETE", `/admin/users/${victim.id}/factors`, {
    headers: { "x-api-key": narrow.key },
  });
  assert.equal(beyond.status, 403, JSON.stringify(beyond.body));
  assert.equal(errorOf(beyond).code, "forbidden");

  await ageSecondFactor(admin.sessionId, 11);
  const stale = await call("DELETE", `/admin/users/${victim.id}/factors`, { token: admin.token });
  assert.equal(stale.status, 403);
  assert.equal(errorOf(stale).code, "step_up_required");

  const listed = await call("GET", `/admin/users/${victim.id}/factors`, { token: admin.token });
  assert.deepEqual(
    listed.body.factors.map((f: { id: string }) => f.id),
    [factor.factorId],
    "nothing removed",
  );
  const still = await call("GET", "/auth/session", { token: victim.token });
  assert.equal(still.status, 200, "no session revoked");
});
