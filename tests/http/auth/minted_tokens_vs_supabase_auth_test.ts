import assert from "node:assert/strict";
import { decodeJwt, SignJWT } from "jose";
import { newSigningKey } from "../../../functions/_local/jwt_keygen.ts";
import { recordSecret } from "../../support/http.ts";
import type { InProcessFunctions } from "../../support/in_process.ts";
import { createAuthUser, withSupabaseIdentity } from "../../support/supabase_auth.ts";
import { supabaseAuthVerdict } from "../../support/supabase_auth_rules.ts";

/**
 * LATCHKEY_IDENTITY=supabase: `sub` of a minted token is an auth.users id, so a token Supabase
 * Auth can verify would be a Supabase Auth session, good for changing the user's password. Each
 * minted token is judged by Supabase Auth's own rules (tests/support/supabase_auth_rules.ts).
 */

const ignore = !Deno.env.get("LATCHKEY_TEST_SUPERUSER_URL");
const legacySecret = `supabase-legacy-secret-${crypto.randomUUID()}`;
recordSecret(legacySecret);

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A key its owner made with a Supabase Auth session. */
async function keyOf(served: InProcessFunctions, session: string): Promise<string> {
  const created = await served.call("POST", "/keys", bearer(session), { name: "ci" });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  recordSecret(created.body.key);
  return created.body.key;
}

Deno.test({
  name: "a key's token is never a Supabase Auth session (Supabase Auth's rules refuse it)",
  ignore,
  fn: () =>
    withSupabaseIdentity(async (served, project) => {
      const user = await createAuthUser();
      const key = await keyOf(served, await project.token(user));
      const minted = await served.call("POST", "/auth/token", { "x-api-key": key });
      assert.equal(minted.status, 200, JSON.stringify(minted.body));
      const token = minted.body.access_token;
      recordSecret(token);
      assert.equal(decodeJwt(token).sub, user.id, "auth.uid() is still the key's owner");

      const trust = { legacySecret, keys: project.keys };
      const verdict = await supabaseAuthVerdict(token, trust);
      assert.equal(verdict.accepted, false, "Supabase Auth must not take a key's token");
      assert.match((verdict as { reason: string }).reason, /unrecognized JWT kid/);
      // Nor does our own verifier of Supabase sessions.
      assert.equal((await served.call("GET", "/auth/session", bearer(token))).status, 401);

      // The rules are not vacuous: the same claims signed as the README's legacy-secret recipe
      // signed them (HS256, no kid) are a Supabase Auth session, and our verifier refuses them
      // by their key_id even so.
      const legacyMinted = await new SignJWT(decodeJwt(token))
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .sign(new TextEncoder().encode(legacySecret));
      recordSecret(legacyMinted);
      assert.equal((await supabaseAuthVerdict(legacyMinted, trust)).accepted, true);
      const asSession = await served.call("GET", "/auth/session", bearer(legacyMinted));
      assert.equal(asSession.status, 401, "a token naming a key_id is not a Supabase session");
    }, { LATCHKEY_SUPABASE_JWT_SECRET: legacySecret }),
});

Deno.test({
  name: "a signing key Supabase Auth also holds mints nothing (501), and says how to fix it",
  ignore,
  async fn() {
    const ours = await newSigningKey();
    await withSupabaseIdentity(
      async (served, project) => {
        const key = await keyOf(served, await project.token(await createAuthUser()));
        const minted = await served.call("POST", "/auth/token", { "x-api-key": key });
        assert.equal(minted.status, 501, JSON.stringify(minted.body));
        assert.equal(minted.body.error.code, "not_configured");
        assert.match(minted.body.error.message, /third-party/);
        assert.equal(minted.body.access_token, undefined);
      },
      { LATCHKEY_JWT_SIGNING_KEYS: JSON.stringify({ keys: [ours] }) },
      // The README's old recipe: Latchkey's key imported into the project's JWT signing keys.
      (project) => project.keys.push(ours),
    );
  },
});

Deno.test({
  name: "an anonymous Supabase user's token mints a token that still says is_anonymous",
  ignore,
  fn: () =>
    withSupabaseIdentity(async (served, project) => {
      const user = await createAuthUser({ email: null, anonymous: true });
      const session = await project.token(user, { is_anonymous: true });
      const minted = await served.call("POST", "/auth/token", bearer(session));
      assert.equal(minted.status, 200, JSON.stringify(minted.body));
      recordSecret(minted.body.access_token);
      assert.equal(decodeJwt(minted.body.access_token).is_anonymous, true);
    }),
});

Deno.test({
  name: "a Supabase Auth session's aal and amr pass into the token minted from it",
  ignore,
  fn: () =>
    withSupabaseIdentity(async (served, project) => {
      const user = await createAuthUser();
      const signedIn = Math.floor(Date.now() / 1000) - 120;
      const amr = [{ method: "password", timestamp: signedIn }, {
        method: "totp",
        timestamp: signedIn + 30,
      }];
      for (const aal of ["aal1", "aal2"]) {
        const session = await project.token(user, {
          aal,
          amr: amr.slice(0, aal === "aal2" ? 2 : 1),
        });
        const minted = await served.call("POST", "/auth/token", bearer(session));
        assert.equal(minted.status, 200, JSON.stringify(minted.body));
        recordSecret(minted.body.access_token);
        const claims = decodeJwt(minted.body.access_token);
        assert.equal(claims.aal, aal);
        assert.deepEqual(claims.amr, amr.slice(0, aal === "aal2" ? 2 : 1));
      }
    }),
});
