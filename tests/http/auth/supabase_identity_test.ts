import assert from "node:assert/strict";
import { newSigningKey } from "../../../functions/_local/jwt_keygen.ts";
import { recordSecret, uniqueEmail, withDatabase } from "../../support/http.ts";
import type { InProcessFunctions } from "../../support/in_process.ts";
import {
  asSupabaseAuth,
  createAuthUser,
  type SupabaseProject as Project,
  withSupabaseIdentity,
} from "../../support/supabase_auth.ts";

/**
 * LATCHKEY_IDENTITY=supabase on the hosted-like test database: Supabase Auth is the identity
 * source. The tokens are minted the way Supabase Auth mints them (ES256 with a `kid` from the
 * project's JWKS, or HS256 with the legacy secret; its issuer, audience, role and claims), the
 * matching auth.users rows are written as Supabase Auth writes them (as supabase_auth_admin),
 * and the project's JWKS is served where Supabase serves it (`/auth/v1/.well-known/jwks.json`).
 */

const ignore = !Deno.env.get("LATCHKEY_TEST_SUPERUSER_URL");
const legacySecret = `supabase-legacy-secret-${crypto.randomUUID()}`;
const adminKey = `identity-admin-key-${crypto.randomUUID()}`;
recordSecret(legacySecret, adminKey);

function withIdentityMode(
  work: (served: InProcessFunctions, project: Project) => Promise<void>,
  env: Record<string, string> = {},
) {
  return withSupabaseIdentity(work, {
    LATCHKEY_SUPABASE_JWT_SECRET: legacySecret,
    LATCHKEY_ADMIN_KEY: adminKey,
    ...env,
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

Deno.test({
  name: "a Supabase Auth token is a session: the user is made once on first sight; keys work",
  ignore,
  async fn() {
    await withIdentityMode(async (served, project) => {
      const user = await createAuthUser();
      const token = await project.token(user);
      const sessions = await Promise.all(
        Array.from({ length: 10 }, () => served.call("GET", "/auth/session", bearer(token))),
      );
      assert.deepEqual(sessions.map((result) => result.status), Array(10).fill(200));
      for (const { body } of sessions) {
        assert.equal(body.user.id, user.id, "the same id as auth.users");
        assert.equal(body.user.email, user.email);
        assert.equal(body.user.name, "Sam Base");
        assert.equal(body.user.role, "user");
      }
      const [row] = await withDatabase((sql) =>
        sql<{ users: number; linked: number; audited: number }[]>`
          select
            (select count(*)::int from latchkey.users where id = ${user.id}) as users,
            (select count(*)::int from latchkey.supabase_identities where user_id = ${user.id})
              as linked,
            (select count(*)::int from latchkey.audit_events
              where action = 'user.created_from_supabase_auth' and target_id = ${user.id})
              as audited`
      );
      assert.deepEqual(
        { ...row },
        { users: 1, linked: 1, audited: 1 },
        "racing requests, one user",
      );
      assert.ok(
        project.fetches() >= 1 && project.fetches() <= 2,
        `JWKS cached (${project.fetches()})`,
      );

      // Keys, verification and Data API tokens work unchanged on top.
      const created = await served.call("POST", "/keys", bearer(token), { name: "from supabase" });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      recordSecret(created.body.key);
      const verified = await served.call("POST", "/keys/verify", {}, { key: created.body.key });
      assert.equal(verified.body.code, "VALID");
      assert.equal(verified.body.userId, user.id);
      const minted = await served.call("POST", "/auth/token", bearer(token));
      assert.equal(minted.status, 200, JSON.stringify(minted.body));
      recordSecret(minted.body.access_token);
      const [, payload] = minted.body.access_token.split(".");
      assert.equal(JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))).sub, user.id);

      // The legacy secret's HS256 tokens are Supabase Auth's too.
      const legacy = await project.token(user, {}, { secret: legacySecret });
      assert.equal((await served.call("GET", "/auth/session", bearer(legacy))).status, 200);
    });
  },
});

Deno.test({
  name: "with Supabase Auth as identity, Latchkey's account routes answer 404 naming it",
  ignore,
  async fn() {
    await withIdentityMode(async (served, project) => {
      const token = await project.token(await createAuthUser());
      const routes: [string, string, Record<string, string>, unknown?][] = [
        ["POST", "/auth/sign-up/email", {}, {
          name: "x",
          email: "x@example.test",
          password: "p".repeat(12),
        }],
        ["POST", "/auth/sign-in/email", {}, { email: "x@example.test", password: "p".repeat(12) }],
        ["POST", "/auth/sign-out", bearer(token)],
        ["GET", "/auth/sessions", bearer(token)],
        ["POST", "/auth/sessions/revoke-others", bearer(token)],
        ["POST", "/auth/change-password", bearer(token), {
          currentPassword: "a",
          newPassword: "b",
        }],
      ];
      for (const [method, path, headers, body] of routes) {
        const result = await served.call(method, path, headers, body);
        assert.equal(result.status, 404, `${method} ${path}`);
        assert.equal(result.body.error.code, "not_found");
        assert.match(result.body.error.message, /Supabase Auth owns/);
      }
    });
  },
});

Deno.test({
  name: "tokens Supabase Auth did not issue for a live user are refused; a new kid is fetched",
  ignore,
  async fn() {
    await withIdentityMode(async (served, project) => {
      const user = await createAuthUser();
      const now = Math.floor(Date.now() / 1000);
      const stranger = await newSigningKey();
      const refusals: [string, string][] = [
        ["another issuer", await project.token(user, { iss: "https://evil.example/auth/v1" })],
        ["another audience", await project.token(user, { aud: "anon" })],
        ["the anon key's role", await project.token(user, { role: "anon" })],
        ["the service role", await project.token(user, { role: "service_role" })],
        ["expired", await project.token(user, { iat: now - 7200, exp: now - 3600 })],
        ["a key the project does not publish", await project.token(user, {}, { key: stranger })],
        ["another legacy secret", await project.token(user, {}, { secret: `${legacySecret}-x` })],
        ["no such auth user", await project.token({ id: crypto.randomUUID(), email: null })],
        ["a Latchkey session token", "lks_" + "a".repeat(43)],
      ];
      for (const [why, token] of refusals) {
        const result = await served.call("GET", "/auth/session", bearer(token));
        assert.equal(result.status, 401, why);
        assert.equal(result.body.error.code, "unauthorized", why);
      }
      const forged = await project.token(user);
      const [header, payload] = forged.split(".");
      const tampered = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
      tampered.sub = (await createAuthUser()).id;
      const swapped = `${header}.${
        btoa(JSON.stringify(tampered)).replace(/=+$/, "")
          .replace(/\+/g, "-").replace(/\//g, "_")
      }.${forged.split(".")[2]}`;
      assert.equal((await served.call("GET", "/auth/session", bearer(swapped))).status, 401);

      // Supabase rotates its signing keys: a token with the new kid is accepted once the
      // cooldown between fetches (5 s) has passed, without a restart.
      const rotated = await newSigningKey();
      project.keys.push(rotated);
      await new Promise((resolve) => setTimeout(resolve, 5_100));
      const fresh = await project.token(user, {}, { key: rotated });
      assert.equal((await served.call("GET", "/auth/session", bearer(fresh))).status, 200);
    });
  },
});

Deno.test({
  name: "deleting the auth user ends its Latchkey user, keys and all, audited",
  ignore,
  async fn() {
    await withIdentityMode(async (served, project) => {
      const user = await createAuthUser();
      const token = await project.token(user);
      const created = await served.call("POST", "/keys", bearer(token), { name: "doomed" });
      assert.equal(created.status, 201);
      recordSecret(created.body.key);
      await asSupabaseAuth((sql) => sql`delete from auth.users where id = ${user.id}`);
      const verified = await served.call("POST", "/keys/verify", {}, { key: created.body.key });
      assert.equal(verified.body.code, "NOT_FOUND");
      assert.equal((await served.call("GET", "/auth/session", bearer(token))).status, 401);
      const [row] = await withDatabase((sql) =>
        sql<{ users: number; audited: number }[]>`
          select (select count(*)::int from latchkey.users where id = ${user.id}) as users,
            (select count(*)::int from latchkey.audit_events
              where action = 'user.deleted_with_auth_user' and target_id = ${user.id}) as audited`
      );
      assert.deepEqual({ ...row }, { users: 0, audited: 1 });
    });
  },
});

Deno.test({
  name: "the bootstrap email becomes admin only once Supabase Auth confirmed it, and only once",
  ignore,
  async fn() {
    const email = uniqueEmail("supabase-admin");
    await withIdentityMode(async (served, project) => {
      const user = await createAuthUser({ email, confirmed: false });
      const token = await project.token(user);
      const before = await served.call("GET", "/auth/session", bearer(token));
      assert.equal(before.body.user.role, "user", "an unconfirmed address proves nothing");

      await asSupabaseAuth((sql) =>
        sql`update auth.users set email_confirmed_at = now() where id = ${user.id}`
      );
      const after = await served.call("GET", "/auth/session", bearer(token));
      assert.equal(after.body.user.role, "admin");
      // LATCHKEY_MFA_REQUIRED_ROLES (admin by default): Supabase Auth's aal is honoured.
      assert.deepEqual(after.body.permissions, [], "an aal1 admin holds no permission yet");
      assert.equal(after.body.mfaRequired, true);
      const atAal1 = await served.call("GET", "/admin/users?limit=1", bearer(token));
      assert.equal(atAal1.status, 403);
      assert.equal(atAal1.body.error.code, "mfa_required");
      assert.match(atAal1.body.error.message, /supabase\.auth\.mfa/);
      const verified = await project.token(user, {
        aal: "aal2",
        amr: [{ method: "totp", timestamp: Math.floor(Date.now() / 1000) }, {
          method: "password",
          timestamp: Math.floor(Date.now() / 1000),
        }],
      });
      const listed = await served.call("GET", "/admin/users?limit=1", bearer(verified));
      assert.equal(listed.status, 200, "the admin routes take the Supabase aal2 session");

      // Another admin demotes them (never the last admin): the bootstrap does not undo it.
      await withDatabase((sql) =>
        sql`insert into latchkey.users (email, name, role)
          values (${uniqueEmail("other-admin")}, 'Other admin', 'admin')`
      );
      const demoted = await served.call("PATCH", `/admin/users/${user.id}`, {
        "x-admin-key": adminKey,
      }, { role: "user" });
      assert.equal(demoted.status, 200, JSON.stringify(demoted.body));
      const later = await served.call("GET", "/auth/session", bearer(token));
      assert.equal(later.body.user.role, "user");
      const [{ promotions }] = await withDatabase((sql) =>
        sql<{ promotions: number }[]>`
          select count(*)::int as promotions from latchkey.audit_events
          where action = 'bootstrap.admin_promoted' and target_id = ${user.id}`
      );
      assert.equal(promotions, 1);
    }, { LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: email });
  },
});

Deno.test({
  name: "an anonymous Supabase Auth user is a session but cannot create API keys",
  ignore,
  async fn() {
    await withIdentityMode(async (served, project) => {
      const user = await createAuthUser({ email: null, anonymous: true });
      const token = await project.token(user, { is_anonymous: true });
      const session = await served.call("GET", "/auth/session", bearer(token));
      assert.equal(session.status, 200);
      const refused = await served.call("POST", "/keys", bearer(token), { name: "anon" });
      assert.equal(refused.status, 403);
      assert.match(refused.body.error.message, /anonymous/i);
      const [{ keys }] = await withDatabase((sql) =>
        sql<{ keys: number }[]>`
          select count(*)::int as keys from latchkey.api_keys where user_id = ${user.id}`
      );
      assert.equal(keys, 0);
    });
  },
});

Deno.test({
  name:
    "a ban in Supabase Auth reaches Latchkey (sessions, keys, tokens); an email change is followed",
  ignore,
  async fn() {
    await withIdentityMode(async (served, project) => {
      const user = await createAuthUser();
      const token = await project.token(user);
      const created = await served.call("POST", "/keys", bearer(token), { name: "to be banned" });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      recordSecret(created.body.key);

      const newEmail = `moved-${user.email}`;
      await asSupabaseAuth((sql) =>
        sql`update auth.users set email = ${newEmail} where id = ${user.id}`
      );
      const moved = await served.call("GET", "/auth/session", bearer(token));
      assert.equal(moved.status, 200);
      assert.equal(moved.body.user.email, newEmail, "the Latchkey user follows the change");

      await asSupabaseAuth((sql) =>
        sql`update auth.users set banned_until = now() + interval '100 years' where id = ${user.id}`
      );
      assert.equal((await served.call("GET", "/auth/session", bearer(token))).status, 401);
      const verified = await served.call("POST", "/keys/verify", {}, { key: created.body.key });
      assert.equal(verified.body.code, "OWNER_BANNED");
      const minted = await served.call("POST", "/auth/token", { "x-api-key": created.body.key });
      assert.equal(minted.status, 403);
      assert.equal(minted.body.error.code, "account_banned");

      // Lifted there, lifted here.
      await asSupabaseAuth((sql) =>
        sql`update auth.users set banned_until = now() - interval '1 minute' where id = ${user.id}`
      );
      const again = await served.call("POST", "/keys/verify", {}, { key: created.body.key });
      assert.equal(again.body.code, "VALID");
    });
  },
});
