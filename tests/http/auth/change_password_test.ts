import assert from "node:assert/strict";
import { auditEventsFor, call, errorOf, signIn, signUp } from "../../support/http.ts";

Deno.test("change-password sets the new password and revokes the other sessions", async () => {
  const account = await signUp("change-pw");
  const other = await signIn(account.email, account.password);
  const newPassword = "a brand new passphrase";
  const result = await call("POST", "/auth/change-password", {
    token: account.token,
    body: { currentPassword: account.password, newPassword },
  });
  assert.equal(result.status, 200);
  assert.deepEqual(result.body, { success: true });

  assert.equal((await call("GET", "/auth/session", { token: account.token })).status, 200);
  assert.equal(
    (await call("GET", "/auth/session", { token: other.body.session.token })).status,
    401,
  );
  assert.equal((await signIn(account.email, account.password)).status, 401);
  assert.equal((await signIn(account.email, newPassword)).status, 200);

  const [event] = await auditEventsFor(result.headers.get("x-request-id")!);
  assert.equal(event.action, "auth.password_changed");
  assert.deepEqual(event.metadata, { revokedSessions: 1 });
});

Deno.test("change-password with a wrong current password changes nothing and is audited", async () => {
  const account = await signUp("change-pw-wrong");
  const result = await call("POST", "/auth/change-password", {
    token: account.token,
    body: { currentPassword: "definitely not it", newPassword: "a brand new passphrase" },
  });
  assert.equal(result.status, 400);
  const error = errorOf(result);
  assert.equal(error.code, "invalid_current_password");
  assert.deepEqual(error.details?.map((detail) => detail.path), ["currentPassword"]);
  assert.equal((await signIn(account.email, account.password)).status, 200);
  const [event] = await auditEventsFor(result.headers.get("x-request-id")!);
  assert.equal(event.action, "auth.password_change_failed");
  assert.equal(event.actor_user_id, account.id);
});

Deno.test("change-password validates the new password and needs a session", async () => {
  const account = await signUp("change-pw-validate");
  const short = await call("POST", "/auth/change-password", {
    token: account.token,
    body: { currentPassword: account.password, newPassword: "short" },
  });
  assert.equal(short.status, 400);
  assert.deepEqual(errorOf(short).details?.map((detail) => detail.path), ["newPassword"]);
  const same = await call("POST", "/auth/change-password", {
    token: account.token,
    body: { currentPassword: account.password, newPassword: account.password },
  });
  assert.equal(same.status, 400);
  const anonymous = await call("POST", "/auth/change-password", {
    body: { currentPassword: account.password, newPassword: "a brand new passphrase" },
  });
  assert.equal(anonymous.status, 401);
});
