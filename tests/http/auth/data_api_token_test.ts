import assert from "node:assert/strict";
import {
  createRemoteJWKSet,
  errors as joseErrors,
  importJWK,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from "jose";
import { Secret, TOTP } from "otpauth";
import { base64Encode } from "../../../functions/_shared/ground/crypto.ts";
import { newSigningKey } from "../../../functions/_local/jwt_keygen.ts";
import { recordSecret, uniqueEmail, withDatabase } from "../../support/http.ts";
import { serveFunctions } from "../../support/in_process.ts";
import {
  addNote,
  asDataApi,
  createFixtureTable,
  insertNotesAsOwner,
  visibleNotes,
} from "../../support/data_api.ts";

/**
 * POST /auth/token against real PostgreSQL set up like hosted Supabase, with real parts on the
 * other side: the token is verified by jose (an independent verifier) against our JWKS over
 * HTTP, or against the HS256 secret, and its claims are then used exactly as PostgREST uses them
 * (tests/support/data_api.ts) on a team's own table guarded by Supabase-style policies.
 */

// auth.uid(), auth.jwt() and the authenticator role exist on our hosted-like clusters only.
const ignore = !Deno.env.get("LATCHKEY_TEST_SUPERUSER_URL");
const appScopes = "compile,notes:write";

function serve(env: Record<string, string>) {
  const served = serveFunctions({ LATCHKEY_SCOPES: appScopes, ...env });
  return { ...served, issuer: `${served.base}/auth` };
}

type Served = ReturnType<typeof serve>;

async function signUp(served: Served, tag: string) {
  const email = uniqueEmail(tag);
  const password = "correct horse battery staple";
  const result = await served.call("POST", "/auth/sign-up/email", {}, {
    name: tag,
    email,
    password,
  });
  assert.equal(result.status, 200, JSON.stringify(result.body));
  recordSecret(result.body.session.token);
  return { id: result.body.user.id as string, email, token: result.body.session.token as string };
}

async function createKey(served: Served, sessionToken: string, body: Record<string, unknown>) {
  const result = await served.call(
    "POST",
    "/keys",
    { authorization: `Bearer ${sessionToken}` },
    { name: "data api", ...body },
  );
  assert.equal(result.status, 201, JSON.stringify(result.body));
  recordSecret(result.body.key);
  return { id: result.body.apiKey?.id ?? result.body.id, key: result.body.key as string };
}

async function mint(served: Served, headers: Record<string, string>) {
  const result = await served.call("POST", "/auth/token", headers);
  if (result.status === 200) recordSecret(result.body.access_token);
  return result;
}

function verifierFor(served: Served) {
  return createRemoteJWKSet(new URL(`${served.base}/auth/.well-known/jwks.json`));
}

Deno.test({
  name: "a session's token is verified against our JWKS and sees only its owner's rows",
  ignore,
  async fn() {
    const signingKeys = JSON.stringify({ keys: [await newSigningKey(), await newSigningKey()] });
    const served = serve({ LATCHKEY_JWT_SIGNING_KEYS: signingKeys });
    try {
      await createFixtureTable();
      const ada = await signUp(served, "ada");
      const bob = await signUp(served, "bob");
      await insertNotesAsOwner(ada.id, "ada 1", "ada 2");
      await insertNotesAsOwner(bob.id, "bob 1");

      const discovery = await served.call("GET", "/auth/.well-known/openid-configuration");
      assert.equal(discovery.status, 200);
      assert.equal(discovery.body.issuer, served.issuer);
      assert.equal(discovery.body.jwks_uri, `${served.issuer}/.well-known/jwks.json`);
      assert.deepEqual(discovery.body.id_token_signing_alg_values_supported, ["ES256"]);
      const jwks = await served.call("GET", "/auth/.well-known/jwks.json");
      assert.equal(jwks.body.keys.length, 2, "every public half, for rotation");
      // Verifiers may cache the public keys (the route's own Cache-Control, not the API's).
      assert.equal(jwks.headers.get("cache-control"), "public, max-age=300");
      assert.equal(discovery.headers.get("cache-control"), "public, max-age=300");
      for (const key of jwks.body.keys) {
        assert.equal(key.d, undefined, "never a private part");
        assert.equal(key.alg, "ES256");
      }

      const minted = await mint(served, { authorization: `Bearer ${ada.token}` });
      assert.equal(minted.status, 200, JSON.stringify(minted.body));
      assert.equal(minted.body.token_type, "bearer");
      assert.equal(minted.body.expires_in, 600);
      assert.equal(minted.headers.get("cache-control"), "no-store");
      const { payload, protectedHeader } = await jwtVerify(
        minted.body.access_token,
        verifierFor(served),
        { issuer: served.issuer, audience: "authenticated", algorithms: ["ES256"] },
      );
      assert.equal(protectedHeader.kid, JSON.parse(signingKeys).keys[0].kid, "the first key signs");
      assert.equal(payload.sub, ada.id);
      assert.equal(payload.role, "authenticated");
      assert.equal(payload.app_role, "user");
      assert.equal(payload.email, ada.email);
      assert.equal(typeof payload.session_id, "string");
      assert.equal(payload.key_id, undefined);
      assert.equal(payload.exp, minted.body.expires_at);
      assert.equal(payload.exp! - payload.iat!, 600);

      assert.deepEqual(await visibleNotes(payload), ["ada 1", "ada 2"]);
      await addNote(payload, "ada 3");
      assert.deepEqual(await visibleNotes(payload), ["ada 1", "ada 2", "ada 3"]);
      await assert.rejects(
        () =>
          asDataApi(payload, (tx) =>
            tx`insert into public.latchkey_fixture_notes (owner_id, body)
              values (${bob.id}, 'planted in bob''s name')`),
        (error: { code?: string }) => error.code === "42501",
        "a token cannot write rows in another user's name",
      );

      // The verifier's side: an expired token and a key we do not publish are refused.
      await assert.rejects(
        () =>
          jwtVerify(minted.body.access_token, verifierFor(served), {
            issuer: served.issuer,
            audience: "authenticated",
            currentDate: new Date((payload.exp! + 1) * 1000),
          }),
        joseErrors.JWTExpired,
      );
      const stranger = await newSigningKey();
      const strangerKey = await importJWK(stranger, "ES256");
      for (const kid of [stranger.kid, JSON.parse(signingKeys).keys[0].kid]) {
        const forged = await new SignJWT({ ...payload })
          .setProtectedHeader({ alg: "ES256", kid })
          .sign(strangerKey);
        await assert.rejects(
          () => jwtVerify(forged, verifierFor(served), { issuer: served.issuer }),
          (error: Error) =>
            error instanceof joseErrors.JWKSNoMatchingKey ||
            error instanceof joseErrors.JWSSignatureVerificationFailed,
          `a token signed by a key we do not hold (kid ${kid})`,
        );
      }
    } finally {
      await served.close();
    }
  },
});

Deno.test({
  name: "a key's token carries its owner's RLS and its scopes, and counts as a use of the key",
  ignore,
  async fn() {
    const served = serve({
      LATCHKEY_JWT_SIGNING_KEYS: JSON.stringify({ keys: [await newSigningKey()] }),
    });
    try {
      await createFixtureTable();
      const ada = await signUp(served, "ada-keys");
      const bob = await signUp(served, "bob-keys");
      await insertNotesAsOwner(ada.id, "ada's");
      await insertNotesAsOwner(bob.id, "bob's");
      const readOnly = await createKey(served, ada.token, { scopes: ["compile"] });
      const writer = await createKey(served, ada.token, { scopes: ["notes:write"] });

      const minted = await mint(served, { "x-api-key": readOnly.key });
      assert.equal(minted.status, 200, JSON.stringify(minted.body));
      assert.ok(minted.headers.get("ratelimit-remaining"), "minting is metered like any use");
      const { payload } = await jwtVerify(minted.body.access_token, verifierFor(served), {
        issuer: served.issuer,
        audience: "authenticated",
      });
      assert.equal(payload.sub, ada.id, "the key's owner");
      assert.deepEqual(payload.scopes, ["compile"]);
      assert.equal(typeof payload.key_id, "string");
      assert.equal(payload.session_id, undefined);
      assert.deepEqual(await visibleNotes(payload), ["ada's"]);
      await assert.rejects(
        () => addNote(payload, "needs notes:write"),
        (error: { code?: string }) => error.code === "42501",
        "a write its scopes lack is refused by the team's policy",
      );
      const writerToken = await mint(served, { authorization: `Bearer ${writer.key}` });
      const writerClaims = (await jwtVerify(writerToken.body.access_token, verifierFor(served)))
        .payload;
      await addNote(writerClaims, "written with notes:write");
      assert.deepEqual(await visibleNotes(writerClaims), ["ada's", "written with notes:write"]);

      // A use like any other: last_used_at, and the key's rate limit.
      const [{ used }] = await withDatabase((sql) =>
        sql<{ used: boolean }[]>`
          select last_used_at is not null as used from latchkey.api_keys
          where key_prefix = ${readOnly.key.slice(0, 12)}`
      );
      assert.equal(used, true);
      const metered = await createKey(served, ada.token, { rateLimitPerMinute: 2 });
      const statuses = [];
      for (let i = 0; i < 3; i++) {
        statuses.push((await mint(served, { "x-api-key": metered.key })).status);
      }
      assert.deepEqual(statuses, [200, 200, 429], "minting cannot dodge the rate limit");

      // A revoked key mints nothing more.
      const revoked = await served.call("DELETE", `/keys/${readOnly.id}`, {
        authorization: `Bearer ${ada.token}`,
      });
      assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
      const afterRevoke = await mint(served, { "x-api-key": readOnly.key });
      assert.equal(afterRevoke.status, 401);
      assert.equal(afterRevoke.body.error.code, "unauthorized");
      assert.equal(afterRevoke.body.access_token, undefined);
    } finally {
      await served.close();
    }
  },
});

/** A team's table that only a second factor opens, with Supabase's own policy on `aal`. */
async function createSecondFactorTable() {
  await withDatabase((sql) =>
    sql.unsafe(`
      drop table if exists public.latchkey_fixture_vault;
      create table public.latchkey_fixture_vault (
        id bigint generated always as identity primary key,
        owner_id uuid not null,
        body text not null
      );
      alter table public.latchkey_fixture_vault enable row level security;
      grant select on public.latchkey_fixture_vault to authenticated;
      create policy "Owners read their vault after a second factor"
        on public.latchkey_fixture_vault as restrictive for select to authenticated
        using ((select auth.jwt()) ->> 'aal' = 'aal2');
      create policy "Owners read their vault" on public.latchkey_fixture_vault
        for select to authenticated using (owner_id = (select auth.uid()));`)
  );
}

Deno.test({
  name: "tokens carry aal and amr as Supabase Auth's do: a policy on aal2 opens after a factor, " +
    "never for a key",
  ignore,
  async fn() {
    const mfaKey = base64Encode(crypto.getRandomValues(new Uint8Array(32)));
    recordSecret(mfaKey);
    const served = serve({
      LATCHKEY_JWT_SIGNING_KEYS: JSON.stringify({ keys: [await newSigningKey()] }),
      LATCHKEY_MFA_ENCRYPTION_KEY: mfaKey,
    });
    const claimsOf = async (headers: Record<string, string>) => {
      const minted = await mint(served, headers);
      assert.equal(minted.status, 200, JSON.stringify(minted.body));
      return (await jwtVerify(minted.body.access_token, verifierFor(served), {
        issuer: served.issuer,
        audience: "authenticated",
      })).payload as JWTPayload & { aal: string; amr: { method: string; timestamp: number }[] };
    };
    const methods = (claims: { amr: { method: string }[] }) => claims.amr.map((e) => e.method);
    try {
      await createSecondFactorTable();
      const ada = await signUp(served, "ada-aal");
      await withDatabase((sql) =>
        sql`insert into public.latchkey_fixture_vault (owner_id, body) values (${ada.id}, 'vault')`
      );
      const session = { authorization: `Bearer ${ada.token}` };
      const before = await claimsOf(session);
      assert.equal(before.aal, "aal1");
      assert.deepEqual(methods(before), ["password"]);
      const now = Math.floor(Date.now() / 1000);
      assert.ok(Math.abs(before.amr[0].timestamp - now) < 60, "amr timestamps are epoch seconds");
      const readVault = (claims: JWTPayload) =>
        asDataApi(
          claims,
          async (tx) =>
            (await tx<{ body: string }[]>`select body from public.latchkey_fixture_vault`)
              .map((row) => row.body),
        );
      assert.deepEqual(await readVault(before), [], "a password alone does not open it");

      // A second factor raises the same session to aal2; its next token says so.
      const enrolled = await served.call("POST", "/auth/factors/totp", session, {});
      assert.equal(enrolled.status, 201, JSON.stringify(enrolled.body));
      recordSecret(enrolled.body.secret, enrolled.body.otpauthUri);
      const code = new TOTP({ secret: Secret.fromBase32(enrolled.body.secret) }).generate();
      const verified = await served.call(
        "POST",
        `/auth/factors/${enrolled.body.id}/verify`,
        session,
        { code },
      );
      assert.equal(verified.status, 200, JSON.stringify(verified.body));
      const after = await claimsOf(session);
      assert.equal(after.aal, "aal2");
      assert.deepEqual(methods(after), ["password", "totp"]);
      assert.deepEqual(await readVault(after), ["vault"]);

      // A key of that same aal2 session is aal1: a key proves no second factor.
      const { key } = await createKey(served, ada.token, { scopes: ["compile"] });
      const ofKey = await claimsOf({ "x-api-key": key });
      assert.equal(ofKey.aal, "aal1");
      assert.deepEqual(methods(ofKey), ["api_key"]);
      assert.deepEqual(await readVault(ofKey), []);
    } finally {
      await served.close();
    }
  },
});

Deno.test({
  name: "with the legacy JWT secret the token is HS256, verifies with the secret, and RLS holds",
  ignore,
  async fn() {
    const secret = `legacy-jwt-secret-${crypto.randomUUID()}`;
    recordSecret(secret);
    const served = serve({ LATCHKEY_JWT_SECRET: secret });
    try {
      await createFixtureTable();
      const ada = await signUp(served, "ada-hs");
      await insertNotesAsOwner(ada.id, "ada's legacy note");
      const minted = await mint(served, { authorization: `Bearer ${ada.token}` });
      assert.equal(minted.status, 200, JSON.stringify(minted.body));
      const { payload, protectedHeader } = await jwtVerify(
        minted.body.access_token,
        new TextEncoder().encode(secret),
        { issuer: served.issuer, audience: "authenticated", algorithms: ["HS256"] },
      );
      assert.equal(protectedHeader.alg, "HS256");
      assert.equal(protectedHeader.kid, undefined);
      await assert.rejects(
        () => jwtVerify(minted.body.access_token, new TextEncoder().encode(`${secret}-other`)),
        joseErrors.JWSSignatureVerificationFailed,
      );
      assert.deepEqual(await visibleNotes(payload), ["ada's legacy note"]);
      const jwks = await served.call("GET", "/auth/.well-known/jwks.json");
      assert.deepEqual(jwks.body, { keys: [] }, "a shared secret is never published");
    } finally {
      await served.close();
    }
  },
});

Deno.test({
  name:
    "without signing configured: 501 not_configured; no admin key, banned or bad credential mints",
  ignore,
  async fn() {
    const served = serve({});
    try {
      const ada = await signUp(served, "ada-none");
      const minted = await mint(served, { authorization: `Bearer ${ada.token}` });
      assert.equal(minted.status, 501);
      assert.equal(minted.body.error.code, "not_configured");
      assert.match(minted.body.error.message, /LATCHKEY_JWT_SIGNING_KEYS/);
      assert.equal(typeof minted.body.error.requestId, "string");
    } finally {
      await served.close();
    }
    const configured = serve({
      LATCHKEY_JWT_SIGNING_KEYS: JSON.stringify({ keys: [await newSigningKey()] }),
    });
    try {
      for (
        const headers of [
          {},
          { "x-admin-key": "x".repeat(40) },
          { authorization: "Bearer nope" },
        ] as Record<string, string>[]
      ) {
        const refused = await mint(configured, headers);
        assert.equal(refused.status, 401, JSON.stringify(headers));
        assert.equal(refused.body.error.code, "unauthorized");
      }
      const banned = await signUp(configured, "banned");
      await withDatabase((sql) =>
        sql`update latchkey.users set banned_at = now(), ban_reason = 'test' where id = ${banned.id}`
      );
      const refused = await mint(configured, { authorization: `Bearer ${banned.token}` });
      assert.ok([401, 403].includes(refused.status), String(refused.status));
      assert.equal(refused.body.access_token, undefined);
    } finally {
      await configured.close();
    }
  },
});
