import assert from "node:assert/strict";
import { adminPermissions } from "../../../functions/_shared/ground/principal.ts";
import {
  asAdminKey,
  call,
  createAccount,
  errorOf,
  issueKey,
  recordSecret,
  totpCode,
  verifyKey,
  withDatabase,
} from "../../support/http.ts";
import { ageSecondFactor } from "../../support/step_up.ts";

/**
 * Step-up (issue 28, item 4): each dangerous action by a session needs a second factor verified
 * in the last LATCHKEY_STEP_UP_MINUTES (10 here); machines' credentials are not asked.
 */

const since = encodeURIComponent(new Date(Date.now() - 60_000).toISOString());

/** The dangerous calls, each with a fresh target, as an admin can make them. */
async function dangerousCalls() {
  const target = await createAccount("user", "step-up-target");
  const keyed = await issueKey(target.id, { name: "to rotate", scopes: [] });
  return [
    { method: "PATCH", path: `/admin/users/${target.id}`, body: { role: "support" } },
    {
      method: "POST",
      path: `/admin/users/${target.id}/password`,
      body: { newPassword: "another long passphrase 9" },
    },
    { method: "POST", path: "/admin/keys", body: { userId: target.id, scopes: ["users:read"] } },
    { method: "GET", path: `/admin/audit/export?since=${since}` },
    { method: "DELETE", path: `/admin/users/${target.id}/factors` },
    { method: "DELETE", path: `/admin/users/${target.id}` },
    { method: "POST", path: "/keys", body: { name: "admin scoped", scopes: ["users:read"] } },
    { keyed },
  ];
}

Deno.test("step-up: refused after the window, accepted right after a verify", async () => {
  const admin = await createAccount("admin", "step-up-admin");
  const factor = admin.totp!;
  const target = await createAccount("user", "step-up-window");

  // Nine minutes after the verification: still within the window.
  await ageSecondFactor(admin.sessionId, 9);
  const within = await call("PATCH", `/admin/users/${target.id}`, {
    token: admin.token,
    body: { role: "support" },
  });
  assert.equal(within.status, 200, JSON.stringify(within.body));

  await ageSecondFactor(admin.sessionId, 2);
  const stale = await call("PATCH", `/admin/users/${target.id}`, {
    token: admin.token,
    body: { role: "user" },
  });
  assert.equal(stale.status, 403);
  assert.equal(errorOf(stale).code, "step_up_required");
  assert.match(errorOf(stale).message, /10 minutes.*POST \/auth\/factors\/:id\/verify/s);
  // What is not dangerous goes on: a name, not a role.
  const renamed = await call("PATCH", `/admin/users/${target.id}`, {
    token: admin.token,
    body: { name: "Renamed" },
  });
  assert.equal(renamed.status, 200);

  const verified = await call("POST", `/auth/factors/${factor.factorId}/verify`, {
    token: admin.token,
    body: { code: totpCode(factor.secret, 1) },
  });
  assert.equal(verified.status, 200);
  // amr names each method once, at its newest time.
  assert.deepEqual(
    verified.body.session.amr.map((entry: { method: string }) => entry.method),
    ["password", "totp"],
  );
  const again = await call("PATCH", `/admin/users/${target.id}`, {
    token: admin.token,
    body: { role: "user" },
  });
  assert.equal(again.status, 200, JSON.stringify(again.body));
});

Deno.test("step-up: every dangerous action refuses a stale session, and machines are not asked", async () => {
  const admin = await createAccount("admin", "step-up-every");
  await ageSecondFactor(admin.sessionId, 11);
  // A session of an admin with no factor at all cannot step up; its role needs a factor before
  // anything (LATCHKEY_MFA_REQUIRED_ROLES), so it is told that first.
  const bare = await createAccount("admin", "step-up-bare", { secondFactor: false });
  const adminScopedKey = (await issueKey(admin.id, {
    name: "machine",
    scopes: [...adminPermissions],
  })).key;

  const refusals = [
    { token: admin.token, code: "step_up_required" },
    { token: bare.token, code: "mfa_required" },
  ];
  for (const { token, code } of refusals) {
    for (const request of await dangerousCalls()) {
      if ("keyed" in request) {
        // Rotating an admin-scoped key mints one: the database refuses it (no declaration ran).
        const scoped = await issueKey(admin.id, { name: "scoped", scopes: ["users:read"] });
        const rotated = await call("POST", `/admin/keys/${scoped.id}/rotate`, { token, body: {} });
        assert.equal(rotated.status, 403, JSON.stringify(rotated.body));
        assert.equal(errorOf(rotated).code, code);
        const plain = await call("POST", `/admin/keys/${request.keyed!.id}/rotate`, {
          token,
          body: {},
        });
        if (code === "mfa_required") {
          assert.equal(plain.status, 403, "a session awaiting its factor rotates nothing");
          continue;
        }
        assert.equal(plain.status, 201, "a key without an admin permission rotates freely");
        recordSecret(plain.body.key);
        continue;
      }
      const refused = await call(request.method!, request.path!, { token, body: request.body });
      assert.equal(
        refused.status,
        403,
        `${request.method} ${request.path}: ${JSON.stringify(refused.body)}`,
      );
      assert.equal(errorOf(refused).code, code);
    }
  }
  // Enabling a disabled admin-scoped key gives machine power back: the database refuses it to a
  // stale session on either PATCH route; disabling and renaming it stay free.
  for (const path of ["/admin/keys", "/keys"]) {
    const scoped = await issueKey(admin.id, { name: "suspected", scopes: ["users:read"] });
    const disabled = await call("PATCH", `${path}/${scoped.id}`, {
      token: admin.token,
      body: { enabled: false, name: "suspected, off" },
    });
    assert.equal(disabled.status, 200, JSON.stringify(disabled.body));
    const enabled = await call("PATCH", `${path}/${scoped.id}`, {
      token: admin.token,
      body: { enabled: true },
    });
    assert.equal(enabled.status, 403, `${path}: ${JSON.stringify(enabled.body)}`);
    assert.equal(errorOf(enabled).code, "step_up_required");
    assert.equal((await verifyKey(scoped.key)).body.valid, false, "the key stays off");
    const byAdminKey = await asAdminKey("PATCH", `/admin/keys/${scoped.id}`, {
      body: { enabled: true },
    });
    assert.equal(byAdminKey.status, 200, "the X-Admin-Key is not asked");
  }

  const [{ unchanged }] = await withDatabase((sql) =>
    sql`select count(*)::int as unchanged from latchkey.audit_events
        where actor_user_id in (${admin.id}, ${bare.id})
          and action in ('admin.user_updated', 'admin.user_deleted', 'admin.password_set',
            'admin.key_created', 'admin.factors_reset', 'api_key.created')`
  );
  assert.equal(unchanged, 0, "nothing dangerous was done");

  // The X-Admin-Key and an admin-scoped API key act without a second factor.
  for (const request of await dangerousCalls()) {
    if ("keyed" in request || request.path === "/keys") continue;
    const byAdminKey = await asAdminKey(request.method!, request.path!, { body: request.body });
    assert.ok(byAdminKey.status < 300, `${request.path}: ${JSON.stringify(byAdminKey.body)}`);
    if (byAdminKey.body?.key) recordSecret(byAdminKey.body.key);
  }
  for (const request of await dangerousCalls()) {
    if ("keyed" in request || request.path === "/keys") continue;
    const byKey = await call(request.method!, request.path!, {
      headers: { "x-api-key": adminScopedKey },
      body: request.body,
    });
    assert.ok(byKey.status < 300, `${request.path}: ${JSON.stringify(byKey.body)}`);
    if (byKey.body?.key) recordSecret(byKey.body.key);
  }
});
