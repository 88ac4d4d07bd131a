import {
  adminPermissions,
  isAdminPermission,
} from "../../../functions/_shared/ground/principal.ts";
import assert from "node:assert/strict";
import {
  call,
  createAccount,
  enrolTotp,
  recordSecret,
  signIn,
  type TestAccount,
  totpCode,
  withDatabase,
} from "../../support/http.ts";
import { serveFunctions } from "../../support/in_process.ts";

/**
 * LATCHKEY_MFA_REQUIRED_ROLES (admin,support on the suite's server, the default): a session of
 * such a role at aal1 is led to a second factor and refused everything else, and only an aal2
 * session mints a key with an admin permission. Every route × these sessions is the credential
 * matrix (tests/http/security/credential_matrix_test.ts); the database's own refusal is
 * tests/db/required_factor_test.sql.
 */

/** A new account of `role`, signed in with its password only (aal1). */
const signedInAtAal1 = (role: "user" | "support" | "admin") =>
  createAccount(role, `aal1-${role}`, { secondFactor: false });

Deno.test("an admin's first password session is led to enrolment, then has full power", async () => {
  const admin = await signedInAtAal1("admin");

  const refused = await call("GET", "/admin/users?limit=1", { token: admin.token });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.code, "mfa_required");
  assert.equal(refused.body.error.nextRoute, "POST /auth/factors/totp");
  assert.match(refused.body.error.message, /a passkey \(POST \/auth\/factors\/passkey\/options/);
  assert.equal(refused.body.error.requestId, refused.headers.get("x-request-id"));
  const ownKeys = await call("GET", "/keys", { token: admin.token });
  assert.equal(ownKeys.status, 403, "not even its own keys: nothing but the way to a factor");
  assert.equal(ownKeys.body.error.code, "mfa_required");

  const before = await call("GET", "/auth/session", { token: admin.token });
  assert.equal(before.status, 200);
  assert.equal(before.body.user.role, "admin");
  assert.equal(before.body.mfaRequired, true);
  assert.deepEqual(before.body.permissions, [], "it carries no permission yet");
  const factors = await call("GET", "/auth/factors", { token: admin.token });
  assert.equal(factors.status, 200);

  await enrolTotp(admin);
  const after = await call("GET", "/auth/session", { token: admin.token });
  assert.equal(after.body.session.aal, "aal2");
  assert.equal(after.body.mfaRequired, undefined);
  // Latchkey's own permissions (and whatever of the team's the catalogue holds now: admin's too).
  assert.deepEqual(
    after.body.permissions.filter(isAdminPermission).toSorted(),
    [...adminPermissions].sort(),
  );
  const listed = await call("GET", "/admin/users?limit=1", { token: admin.token });
  assert.equal(listed.status, 200, "the same session, now aal2, has the admin routes");
});

Deno.test("an older aal1 session of an account with a factor is sent to verification", async () => {
  const support = await signedInAtAal1("support");
  const other = await signIn(support.email, support.password);
  const factor = await enrolTotp({ ...support, token: other.body.session.token });

  const refused = await call("GET", "/admin/users?limit=1", { token: support.token });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.code, "mfa_required");
  assert.equal(refused.body.error.nextRoute, "POST /auth/factors/:id/verify");

  // Enrolling another factor with it is refused too: a stolen password must not add its own.
  const enrol = await call("POST", "/auth/factors/totp", { token: support.token, body: {} });
  assert.equal(enrol.status, 403);
  assert.equal(enrol.body.error.code, "step_up_required");

  const verified = await call("POST", `/auth/factors/${factor.factorId}/verify`, {
    token: support.token,
    body: { code: totpCode(factor.secret, 1) },
  });
  assert.equal(verified.status, 200, JSON.stringify(verified.body));
  assert.equal(verified.body.session.aal, "aal2");
  const listed = await call("GET", "/admin/users?limit=1", { token: support.token });
  assert.equal(listed.status, 200);
});

Deno.test("an admin who began adding an authenticator app is sent to confirm it", async () => {
  const admin = await signedInAtAal1("admin");
  const begun = await call("POST", "/auth/factors/totp", { token: admin.token, body: {} });
  assert.equal(begun.status, 201, JSON.stringify(begun.body));
  recordSecret(begun.body.secret, begun.body.otpauthUri);

  const refused = await call("GET", "/admin/users?limit=1", { token: admin.token });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.code, "mfa_required");
  assert.equal(refused.body.error.nextRoute, `POST /auth/factors/${begun.body.id}/verify`);
  assert.match(refused.body.error.message, new RegExp(`DELETE /auth/factors/${begun.body.id}`));

  // The route named takes its first code, and the session goes on.
  const verified = await call("POST", `/auth/factors/${begun.body.id}/verify`, {
    token: admin.token,
    body: { code: totpCode(begun.body.secret) },
  });
  assert.equal(verified.status, 200, JSON.stringify(verified.body));
  recordSecret(...verified.body.recoveryCodes);
  const listed = await call("GET", "/admin/users?limit=1", { token: admin.token });
  assert.equal(listed.status, 200);
});

Deno.test("sign-out and the session answer an aal1 admin; a user's aal1 session is unaffected", async () => {
  const admin = await signedInAtAal1("admin");
  const signedOut = await call("POST", "/auth/sign-out", { token: admin.token });
  assert.equal(signedOut.status, 200);

  const user = await signedInAtAal1("user");
  const keys = await call("GET", "/keys", { token: user.token });
  assert.equal(keys.status, 200, "a role that needs no factor keeps its aal1 session");
  const session = await call("GET", "/auth/session", { token: user.token });
  assert.equal(session.body.mfaRequired, undefined);
});

Deno.test("an admin's API key works for machines; minting one with admin scopes needs aal2", async () => {
  const admin = await createAccount("admin", "aal2-minter");
  const minted = await call("POST", "/keys", {
    token: admin.token,
    body: { name: "ops", scopes: ["users:read"] },
  });
  assert.equal(minted.status, 201, "an aal2 session mints an admin-scoped key");
  const withKey = await call("GET", "/admin/users?limit=1", {
    headers: { "x-api-key": minted.body.key },
  });
  assert.equal(withKey.status, 200, "the key is no session: no factor is asked of it");

  // Its owner signs in again with the password only: the key still works, the session does not.
  await withDatabase((sql) => sql`delete from latchkey.mfa_factors where user_id = ${admin.id}`);
  const again = await signIn(admin.email, admin.password);
  assert.equal(again.body.session.aal, "aal1");
  const refused = await call("POST", "/keys", {
    token: again.body.session.token,
    body: { name: "laundered", scopes: ["users:read"] },
  });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.code, "mfa_required");
  const stillWorks = await call("GET", "/admin/users?limit=1", {
    headers: { "x-api-key": minted.body.key },
  });
  assert.equal(stillWorks.status, 200);
});

Deno.test("roles LATCHKEY_MFA_REQUIRED_ROLES leaves out keep aal1 power but mint no admin key", async () => {
  // Sessions are rows in the shared database: made on the suite's server, used on this one.
  const served = serveFunctions({ LATCHKEY_MFA_REQUIRED_ROLES: "admin" });
  try {
    const support = await signedInAtAal1("support");
    const admin = await signedInAtAal1("admin");
    const bearer = (account: TestAccount) => ({ authorization: `Bearer ${account.token}` });

    const listed = await served.call("GET", "/admin/users?limit=1", bearer(support));
    assert.equal(listed.status, 200, "support needs no factor here");
    const refusedAdmin = await served.call("GET", "/admin/users?limit=1", bearer(admin));
    assert.equal(refusedAdmin.body.error?.code, "mfa_required");

    const adminScoped = await served.call("POST", "/keys", bearer(support), {
      name: "support key",
      scopes: ["keys:read"],
    });
    // Minting an admin permission is a dangerous action: it needs a second factor verified
    // just now (step-up), which a password-only session has not, whatever its role.
    assert.equal(adminScoped.status, 403);
    assert.equal(adminScoped.body.error.code, "step_up_required");
    const forUser = await served.call("POST", "/admin/keys", bearer(support), {
      userId: support.id,
      scopes: ["keys:read"],
    });
    assert.equal(forUser.status, 403, "support lacks keys:write anyway");
    const plain = await served.call("POST", "/keys", bearer(support), { name: "compile key" });
    assert.equal(plain.status, 201, "application scopes need no factor");
  } finally {
    await served.close();
  }

  const none = serveFunctions({ LATCHKEY_MFA_REQUIRED_ROLES: "" });
  try {
    const admin = await signedInAtAal1("admin");
    const user = await signedInAtAal1("user");
    const bearer = { authorization: `Bearer ${admin.token}` };
    const listed = await none.call("GET", "/admin/users?limit=1", bearer);
    assert.equal(listed.status, 200, "empty: no role needs a factor");
    const forUser = await none.call("POST", "/admin/keys", bearer, {
      userId: user.id,
      scopes: ["compile"],
    });
    assert.equal(forUser.status, 201, "an application-scoped key for a user");
    const adminScoped = await none.call("POST", "/admin/keys", bearer, {
      userId: admin.id,
      scopes: ["users:read"],
    });
    assert.equal(adminScoped.status, 403);
    assert.equal(adminScoped.body.error.code, "step_up_required");
  } finally {
    await none.close();
  }
});

Deno.test("the warnings say when the required roles could never enrol (no encryption key)", async () => {
  const served = serveFunctions({ LATCHKEY_ADMIN_KEY: "k".repeat(32) });
  try {
    const answer = await served.call("GET", "/admin/warnings", { "x-admin-key": "k".repeat(32) });
    assert.equal(answer.status, 200);
    const warning = answer.body.warnings.find((entry: { code: string }) =>
      entry.code === "mfa_required_without_key"
    );
    assert.match(warning?.message ?? "", /admin, support need a second factor/);
  } finally {
    await served.close();
  }
});
