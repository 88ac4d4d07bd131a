import assert from "node:assert/strict";
import { call, createKey, errorOf, signUp } from "../../support/http.ts";

Deno.test("GET /auth/session with an API key returns the owner and the key, no session", async () => {
  const owner = await signUp("session-key");
  const created = await createKey(owner.token, { name: "k", scopes: [] });
  for (
    const headers of [
      { authorization: `Bearer ${created.key}` },
      // supabase-js always sends its anon key as Authorization: x-api-key wins.
      { "x-api-key": created.key, authorization: "Bearer some-anon-jwt" },
    ]
  ) {
    const result = await call("GET", "/auth/session", { headers });
    assert.equal(result.status, 200);
    assert.equal(result.body.user.id, owner.id);
    assert.equal(result.body.session, null);
    assert.deepEqual(result.body.apiKey, { id: created.id, scopes: [], orgId: null });
  }
});

Deno.test("session-only auth routes refuse API keys with 403 interactive_session_required", async () => {
  const owner = await signUp("session-only");
  const { key } = await createKey(owner.token);
  const attempts = [
    await call("POST", "/auth/sign-out", { token: key }),
    await call("POST", "/auth/sessions/revoke-others", { token: key }),
    await call("POST", "/auth/change-password", {
      token: key,
      body: { currentPassword: owner.password, newPassword: "a brand new passphrase" },
    }),
  ];
  for (const result of attempts) {
    assert.equal(result.status, 403);
    assert.equal(errorOf(result).code, "interactive_session_required");
  }
  assert.equal((await call("GET", "/auth/session", { token: owner.token })).status, 200);
  // API.md: the sessions list is for a session; a key that could read it learns where its
  // owner signs in from.
  const sessions = await call("GET", "/auth/sessions", { token: key });
  assert.equal(sessions.status, 403);
  assert.equal(errorOf(sessions).code, "interactive_session_required");
});
