import assert from "node:assert/strict";
import { auditEventsFor, call, signIn, signUp } from "../../support/http.ts";

Deno.test("GET /auth/sessions lists only the caller's active sessions, without tokens", async () => {
  const account = await signUp("sessions");
  const second = await signIn(account.email, account.password);
  const stranger = await signUp("stranger");

  const result = await call("GET", "/auth/sessions", { token: account.token });
  assert.equal(result.status, 200);
  const ids = result.body.sessions.map((session: { id: string }) => session.id).sort();
  assert.deepEqual(ids, [account.sessionId, second.body.session.id].sort());
  assert.ok(!ids.includes(stranger.sessionId));
  const current = result.body.sessions.find((session: { current: boolean }) => session.current);
  assert.equal(current.id, account.sessionId);
  const text = JSON.stringify(result.body);
  assert.ok(!text.includes(account.token) && !text.includes(second.body.session.token));
  assert.ok(!/token/i.test(text), "no token field of any kind");

  await call("POST", "/auth/sign-out", { token: second.body.session.token });
  const after = await call("GET", "/auth/sessions", { token: account.token });
  assert.deepEqual(after.body.sessions.map((session: { id: string }) => session.id), [
    account.sessionId,
  ]);
});

Deno.test("revoke-others revokes every other session and keeps the current one", async () => {
  const account = await signUp("revoke-others");
  const others = [
    await signIn(account.email, account.password),
    await signIn(account.email, account.password),
  ];
  const result = await call("POST", "/auth/sessions/revoke-others", { token: account.token });
  assert.equal(result.status, 200);
  assert.deepEqual(result.body, { success: true, revoked: 2 });
  for (const other of others) {
    assert.equal(
      (await call("GET", "/auth/session", { token: other.body.session.token })).status,
      401,
    );
  }
  assert.equal((await call("GET", "/auth/session", { token: account.token })).status, 200);
  const [event] = await auditEventsFor(result.headers.get("x-request-id")!);
  assert.equal(event.action, "auth.other_sessions_revoked");
  assert.deepEqual(event.metadata, { revokedSessions: 2 });

  const again = await call("POST", "/auth/sessions/revoke-others", { token: account.token });
  assert.deepEqual(again.body, { success: true, revoked: 0 });
});
