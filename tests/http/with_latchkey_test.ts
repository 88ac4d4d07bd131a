import assert from "node:assert/strict";
import { Hono } from "hono";
import { SignJWT } from "jose";
import {
  type LatchkeyContext,
  withLatchkey,
  type WithLatchkeyOptions,
} from "@latchkey/with-latchkey";
import {
  latchkey as latchkeyMiddleware,
  type LatchkeyVariables,
} from "@latchkey/with-latchkey/hono";
import {
  createKey,
  functionsUrl,
  latchkey,
  mintToken,
  recordSecret,
  signUp,
  type TestAccount,
  withDatabase,
} from "../support/http.ts";
import { createNotesTable, type DataApiProject, serveDataApiProject } from "../support/data_api.ts";
import { insertOrg, insertOrgKey } from "../support/orgs.ts";
import { createAuthUser, type SupabaseProject, supabaseProject } from "../support/supabase_auth.ts";

/**
 * withLatchkey (packages/with-latchkey) in this process against the suite's gateway and a Data
 * API that applies RLS with the token's claims (support/data_api.ts), on the notes table of
 * functions/example-notes: every kind of credential, every refusal, the single-flight mint.
 * tests/http/example_notes_test.ts runs the example function itself, served by a gateway.
 */

const ignore = !Deno.env.get("LATCHKEY_TEST_SUPERUSER_URL");
const legacySecret = `legacy-jwt-secret-${crypto.randomUUID()}`;
recordSecret(legacySecret);

interface Calls {
  verify: number;
  session: number;
  mint: number;
  jwks: number;
}

interface World {
  project: DataApiProject;
  auth: SupabaseProject;
  ada: TestAccount;
  bob: TestAccount;
  adaKey: string;
  bobKey: string;
}

/** Ada and Bob, a note each, their keys, the Data API and a Supabase Auth beside it. */
async function setUp(): Promise<World> {
  const auth = await supabaseProject();
  const project = serveDataApiProject((url) => [
    `${functionsUrl}/auth/.well-known/jwks.json`,
    `${url}/auth/v1/.well-known/jwks.json`,
  ], legacySecret);
  project.passOn("/auth/v1/", auth.url);
  await createNotesTable();
  const [ada, bob] = await Promise.all([signUp("wl-ada"), signUp("wl-bob")]);
  await withDatabase((sql) =>
    sql`insert into public.notes (owner_id, body)
        values (${ada.id}, 'ada''s note'), (${bob.id}, 'bob''s note')`
  );
  const [adaKey, bobKey] = await Promise.all([
    createKey(ada.token, { name: "ada", scopes: ["compile"] }),
    createKey(bob.token, { name: "bob", scopes: ["compile"] }),
  ]);
  return { project, auth, ada, bob, adaKey: adaKey.key, bobKey: bobKey.key };
}

/** The handler a team would write: its caller's notes through ctx.supabase, and who it is. */
async function listNotes(_request: Request, { supabase, principal }: LatchkeyContext) {
  const { data, error } = await supabase.from("notes").select("body").order("id");
  if (error) return Response.json({ error }, { status: 502 });
  return Response.json({ notes: data.map((row) => row.body), principal });
}

/** A handler, and the calls it made to Latchkey, counted by kind. */
function handler(world: World, options: Partial<WithLatchkeyOptions> = {}) {
  const calls: Calls = { verify: 0, session: 0, mint: 0, jwks: 0 };
  const serve = withLatchkey({
    url: functionsUrl,
    supabaseUrl: world.project.url,
    supabaseAnonKey: "anon-key",
    scopes: ["compile"],
    fetch: (request) => {
      const path = new URL(request.url).pathname;
      if (path.endsWith("/keys/verify")) calls.verify += 1;
      if (path.endsWith("/auth/session")) calls.session += 1;
      if (path.endsWith("/auth/token")) calls.mint += 1;
      if (path.endsWith("/jwks.json")) calls.jwks += 1;
      return fetch(request);
    },
    ...options,
  }, listNotes);
  return { serve, calls };
}

const request = (headers: Record<string, string> = {}) =>
  new Request("http://team.example.test/notes", { headers });

/** Latchkey's envelope, its request id the x-request-id header's. */
async function refusal(response: Response) {
  const { error } = await response.json();
  assert.equal(typeof error.message, "string");
  assert.equal(error.requestId, response.headers.get("x-request-id"));
  return error as { code: string; message: string };
}

Deno.test({
  name: "withLatchkey: every credential, every refusal, one mint per principal, the Hono form",
  ignore,
  async fn(t) {
    const world = await setUp();
    try {
      await t.step(
        "an API key, in x-api-key or as Bearer: its owner's notes through RLS, the principal, " +
          "the key's rate-limit headers",
        async () => {
          const { serve } = handler(world);
          for (
            const [headers, who, notes] of [
              [{ "x-api-key": world.adaKey }, world.ada, ["ada's note"]],
              [{ authorization: `Bearer ${world.bobKey}` }, world.bob, ["bob's note"]],
            ] as [Record<string, string>, TestAccount, string[]][]
          ) {
            const response = await serve(request(headers));
            assert.equal(response.status, 200);
            const body = await response.json();
            assert.deepEqual(body.notes, notes, "RLS shows the key's owner their own notes only");
            assert.equal(body.principal.kind, "api_key");
            assert.equal(body.principal.userId, who.id);
            assert.equal(typeof body.principal.keyId, "string");
            assert.deepEqual(body.principal.scopes, ["compile"]);
            assert.equal(body.principal.role, "user");
            assert.equal(body.principal.orgId, null);
            assert.equal(body.principal.claims.sub, who.id);
            assert.equal(body.principal.claims.key_id, body.principal.keyId);
            assert.ok(Number(response.headers.get("ratelimit-remaining")) > 0);
            assert.equal(response.headers.get("ratelimit-limit"), "60");
          }
        },
      );
      await t.step(
        "an organization's key: its organization in the principal and no user; its token's " +
          "`sub` is the key, whose rows are no user's, as a JWT too",
        async () => {
          const { serve } = handler(world);
          const orgId = await insertOrg();
          const orgKey = await insertOrgKey(orgId, ["compile"]);
          const who = (
            principal: Record<string, unknown>,
          ) => [principal.kind, principal.userId, principal.keyId, principal.orgId];
          const response = await serve(request({ "x-api-key": orgKey.key }));
          assert.equal(response.status, 200);
          const body = await response.json();
          assert.deepEqual(body.notes, [], "no user's notes: auth.uid() is the key");
          assert.deepEqual(who(body.principal), ["api_key", null, orgKey.id, orgId]);
          assert.deepEqual(
            [body.principal.claims.sub, body.principal.claims.org_id],
            [orgKey.id, orgId],
          );
          const minted = await mintToken({ "x-api-key": orgKey.key });
          const viaJwt = await serve(
            request({ authorization: `Bearer ${minted.data!.access_token}` }),
          );
          assert.deepEqual(who((await viaJwt.json()).principal), ["jwt", null, orgKey.id, orgId]);
        },
      );
      await t.step(
        "a session token: its user's notes and role; a session holds every scope in person",
        async () => {
          const { serve, calls } = handler(world, { scopes: ["compile", "notes:read"] });
          const response = await serve(request({ authorization: `Bearer ${world.ada.token}` }));
          assert.equal(response.status, 200);
          const body = await response.json();
          assert.deepEqual(body.notes, ["ada's note"]);
          assert.equal(body.principal.kind, "session");
          assert.equal(body.principal.sessionId, world.ada.sessionId);
          assert.equal(body.principal.keyId, null);
          assert.equal(body.principal.role, "user");
          assert.deepEqual(calls, { verify: 0, session: 1, mint: 1, jwks: 0 });
        },
      );
      await t.step(
        "a Latchkey JWT is checked against the JWKS and sent on as it is: nothing minted",
        async () => {
          const { serve, calls } = handler(world);
          const minted = await mintToken({ "x-api-key": world.bobKey });
          assert.equal(minted.status, 200);
          const token = minted.data!.access_token;
          for (let i = 0; i < 2; i++) {
            const response = await serve(request({ authorization: `Bearer ${token}` }));
            assert.equal(response.status, 200);
            const body = await response.json();
            assert.deepEqual(body.notes, ["bob's note"]);
            assert.equal(body.principal.kind, "jwt");
            assert.equal(body.principal.userId, world.bob.id);
            assert.deepEqual(
              body.principal.scopes,
              ["compile"],
              "a key's token carries its scopes",
            );
          }
          assert.deepEqual(calls, { verify: 0, session: 0, mint: 0, jwks: 1 }, "the JWKS once");

          // A key's token is held to the scopes like the key.
          const strict = handler(world, { scopes: ["notes:read"] });
          const refused = await strict.serve(request({ authorization: `Bearer ${token}` }));
          assert.equal(refused.status, 403);
          assert.equal((await refusal(refused)).code, "forbidden");
        },
      );
      await t.step(
        "refusals are Latchkey's envelope: no credential, a foreign one, an unknown or revoked " +
          "key, a missing scope, a used-up rate limit",
        async () => {
          const { serve, calls } = handler(world);

          const none = await serve(request());
          assert.equal(none.status, 401);
          assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="latchkey"');
          assert.equal((await refusal(none)).code, "unauthorized");
          for (
            const headers of [
              { authorization: "Basic dXNlcjpwYXNz" },
              { authorization: "Bearer not-a-credential-of-ours" },
              { "x-api-key": "" },
            ] as Record<string, string>[]
          ) {
            const response = await serve(request(headers));
            assert.equal(response.status, 401, JSON.stringify(headers));
            assert.equal((await refusal(response)).code, "unauthorized");
          }
          assert.deepEqual(
            calls,
            { verify: 0, session: 0, mint: 0, jwks: 0 },
            "Latchkey never asked",
          );

          // A key of the right shape that does not exist, and a revoked one: Latchkey's own words.
          const unknown = `lk_${"A".repeat(43)}AAAAAA`;
          const notFound = await serve(request({ "x-api-key": unknown }));
          assert.equal(notFound.status, 401);
          assert.match((await refusal(notFound)).message, /not valid|malformed/);
          const doomed = await createKey(world.ada.token, { name: "doomed", scopes: ["compile"] });
          assert.equal((await serve(request({ "x-api-key": doomed.key }))).status, 200);
          const revoked = await latchkey.DELETE("/keys/{id}", {
            params: { path: { id: doomed.id } },
            headers: { authorization: `Bearer ${world.ada.token}` },
          });
          assert.equal(revoked.response.status, 200);
          const afterRevoke = await serve(request({ "x-api-key": doomed.key }));
          assert.equal(afterRevoke.status, 401);
          assert.equal((await refusal(afterRevoke)).message, "The API key has been revoked.");

          // A key without the scope: 403, the lacking scope named, as RFC 6750 says.
          const bare = await createKey(world.ada.token, { name: "bare", scopes: [] });
          const lacking = await serve(request({ "x-api-key": bare.key }));
          assert.equal(lacking.status, 403);
          assert.equal((await refusal(lacking)).code, "forbidden");
          assert.match(
            lacking.headers.get("www-authenticate")!,
            /error="insufficient_scope", scope="compile"/,
          );
          assert.ok(lacking.headers.get("ratelimit-remaining"), "the check was a use of the key");

          // A Latchkey that cannot be asked (a wrong URL's 404, nothing listening) is no
          // refusal of the caller's: 503, to retry.
          for (const url of [`${functionsUrl}/nowhere`, "http://127.0.0.1:9/functions/v1"]) {
            const lost = handler(world, { url });
            const answer = await lost.serve(request({ "x-api-key": world.adaKey }));
            assert.equal(answer.status, 503, url);
            assert.equal((await refusal(answer)).code, "upstream_unavailable");
            assert.equal(answer.headers.get("retry-after"), "1");
          }

          // Verify's 429, with its headers; the handler never ran.
          const tiny = await createKey(world.ada.token, {
            name: "tiny",
            scopes: ["compile"],
            rateLimitPerMinute: 2,
          });
          // The first request verifies and mints: both uses of the minute.
          assert.equal((await serve(request({ "x-api-key": tiny.key }))).status, 200);
          const limited = await serve(request({ "x-api-key": tiny.key }));
          assert.equal(limited.status, 429);
          assert.equal((await refusal(limited)).code, "rate_limited");
          assert.equal(limited.headers.get("ratelimit-remaining"), "0");
          assert.ok(Number(limited.headers.get("retry-after")) >= 1);
        },
      );
      await t.step(
        "one mint per principal however many requests arrive together; renewed shortly " +
          "before it expires",
        async () => {
          let now = Date.now();
          const { serve, calls } = handler(world, { now: () => now });
          const key = (await createKey(world.bob.token, { name: "busy", scopes: ["compile"] })).key;
          const answers = await Promise.all(
            Array.from({ length: 20 }, () => serve(request({ "x-api-key": key }))),
          );
          const bodies = await Promise.all(answers.map((answer) => answer.json()));
          assert.deepEqual(answers.map((answer) => answer.status), Array(20).fill(200));
          assert.ok(bodies.every((body) => body.notes[0] === "bob's note"));
          assert.equal(calls.verify, 20, "every request is verified");
          assert.equal(calls.mint, 1, "one mint for twenty requests");

          // Held while more than 60 s of it is left, minted again after.
          const tokenOf = async () =>
            (await (await serve(request({ "x-api-key": key }))).json()).principal.claims;
          const first = await tokenOf();
          now = (first.exp - 61) * 1000;
          assert.equal((await tokenOf()).iat, first.iat);
          assert.equal(calls.mint, 1);
          now = (first.exp - 59) * 1000;
          await tokenOf();
          assert.equal(calls.mint, 2, "renewed within the last minute");
        },
      );
      await t.step(
        "Supabase Auth's tokens only when asked for; HS256 only with the secret; forged, " +
          "expired, anon or foreign tokens never",
        async () => {
          const supabaseIssuer = `${world.project.url}/auth/v1`;
          const user = await createAuthUser();
          await withDatabase((sql) =>
            sql`insert into public.notes (owner_id, body) values (${user.id}, 'a supabase user''s note')`
          );
          const token = (overrides: Record<string, unknown> = {}, signWith = {}) =>
            world.auth.token(user, { iss: supabaseIssuer, ...overrides }, signWith);

          const closed = handler(world);
          assert.equal(
            (await closed.serve(request({ authorization: `Bearer ${await token()}` }))).status,
            401,
          );
          const open = handler(world, { jwt: { supabaseAuth: true } });
          const accepted = await open.serve(request({ authorization: `Bearer ${await token()}` }));
          assert.equal(accepted.status, 200);
          const body = await accepted.json();
          assert.deepEqual(body.notes, ["a supabase user's note"], "RLS as the Supabase Auth user");
          assert.equal(body.principal.kind, "jwt");
          assert.equal(body.principal.userId, user.id);
          assert.equal(body.principal.keyId, null);

          const hs256 = await token({}, { secret: legacySecret });
          assert.equal(
            (await open.serve(request({ authorization: `Bearer ${hs256}` }))).status,
            401,
          );
          const withSecret = handler(world, { jwt: { supabaseAuth: true, secret: legacySecret } });
          const claimsOf = async (jwt: string) => {
            const response = await withSecret.serve(request({ authorization: `Bearer ${jwt}` }));
            return response.status === 200
              ? (await response.json()).principal.claims
              : response.status;
          };
          assert.equal((await claimsOf(hs256)).sub, user.id, "the legacy secret's token verifies");

          const now = Math.floor(Date.now() / 1000);
          const [header, payload] = (await token()).split(".");
          const unsigned = `${
            btoa(JSON.stringify({ alg: "none", typ: "JWT" })).replace(/=+$/, "")
          }.${payload}.`;
          const attacks: [string, string][] = [
            ["expired", await token({ iat: now - 7200, exp: now - 3600 })],
            ["not yet valid", await token({ nbf: now + 3600 })],
            ["another audience", await token({ aud: "somebody-else" })],
            ["the anon role", await token({ role: "anon" })],
            ["the service role", await token({ role: "service_role" })],
            ["an untrusted issuer", await token({ iss: "https://evil.example.test/auth/v1" })],
            ["another secret", await token({}, { secret: `${legacySecret}-not` })],
            ["alg none", unsigned],
            [
              "a payload swapped under a signature",
              `${header}.${
                btoa(JSON.stringify({ sub: crypto.randomUUID(), iss: supabaseIssuer }))
                  .replace(/=+$/, "")
              }.${(await token()).split(".")[2]}`,
            ],
            [
              "HS256 keyed with the public key",
              await new SignJWT({ sub: user.id, role: "authenticated", aud: "authenticated" })
                .setProtectedHeader({ alg: "HS256" })
                .setIssuer(`${functionsUrl}/auth`)
                .setExpirationTime("5m")
                .sign(
                  new TextEncoder().encode(
                    JSON.stringify((await latchkey.GET("/auth/.well-known/jwks.json")).data),
                  ),
                ),
            ],
          ];
          for (const [attack, jwt] of attacks) {
            recordSecret(jwt);
            assert.equal(await claimsOf(jwt), 401, attack);
          }
        },
      );
      await t.step(
        "a key's network limits: the client's address (X-Forwarded-For past the trusted hops, " +
          "or the connection's) and Origin go to verify; a refusal is 403 network_not_allowed",
        async () => {
          // This process's requests reach the gateway from 127.0.0.1: listed, so the token
          // withLatchkey mints from here is allowed too (the package's README says why).
          const limited = await createKey(world.ada.token, {
            name: "office",
            allowedNetworks: ["203.0.113.0/24", "127.0.0.1/32"],
          });
          const { serve, calls } = handler(world, { trustedProxyHops: 1 });
          const connection = (hostname: string) => ({ remoteAddr: { transport: "tcp", hostname } });
          // Behind one proxy (10.0.0.1): the entry it appended is the client.
          const from = (address: string) =>
            serve(
              request({ "x-api-key": limited.key, "x-forwarded-for": address }),
              connection("10.0.0.1"),
            );
          const inside = await from("198.51.100.1, 203.0.113.9");
          assert.equal(inside.status, 200);
          assert.deepEqual((await inside.json()).notes, ["ada's note"]);
          const outside = await from("203.0.113.9, 198.51.100.1");
          assert.equal(outside.status, 403);
          const refused = await refusal(outside);
          assert.equal(refused.code, "network_not_allowed");
          assert.match(refused.message, /may not be used from 198\.51\.100\.1/);
          assert.deepEqual(calls, { verify: 2, session: 0, mint: 1, jwks: 0 });
          // No trusted proxy: the connection's address, whatever the header says.
          const direct = handler(world, { trustedProxyHops: 0 }).serve;
          const headers = { "x-api-key": limited.key, "x-forwarded-for": "203.0.113.9" };
          assert.equal((await direct(request(headers), connection("198.51.100.1"))).status, 403);
          const viaConnection = await direct(request(headers), connection("::ffff:203.0.113.5"));
          assert.equal(viaConnection.status, 200);
          await viaConnection.body?.cancel();

          // An origin limit: the client's Origin goes to verify and with the mint.
          const browser = await createKey(world.bob.token, {
            name: "browser",
            allowedOrigins: ["https://app.example.com"],
          });
          const withOrigin = await serve(
            request({ "x-api-key": browser.key, origin: "https://app.example.com" }),
          );
          assert.equal(withOrigin.status, 200);
          assert.deepEqual((await withOrigin.json()).notes, ["bob's note"]);
          const noOrigin = await serve(request({ "x-api-key": browser.key }));
          assert.equal(noOrigin.status, 403);
          assert.match((await refusal(noOrigin)).message, /send the client's Origin header/);

          // The client's network listed, this function's not: verify passes, the mint is refused,
          // and the answer says what to add.
          const officeOnly = await createKey(world.ada.token, {
            name: "office only",
            allowedNetworks: ["203.0.113.0/24"],
          });
          const unminted = await direct(
            request({ "x-api-key": officeOnly.key }),
            connection("203.0.113.9"),
          );
          assert.equal(unminted.status, 403);
          assert.match(
            (await refusal(unminted)).message,
            /add this function's outbound address to the key's allowedNetworks/,
          );
        },
      );
      await t.step(
        'the Hono middleware sets c.get("latchkey"); a refusal never reaches the route',
        async () => {
          let reached = 0;
          const app = new Hono<{ Variables: LatchkeyVariables }>();
          app.use(
            "/notes/*",
            latchkeyMiddleware({
              url: functionsUrl,
              supabaseUrl: world.project.url,
              scopes: ["compile"],
            }),
          );
          app.get("/notes/mine", async (c) => {
            reached += 1;
            const { supabase, principal } = c.get("latchkey");
            const { data } = await supabase.from("notes").select("body");
            return c.json({ userId: principal.userId, notes: data?.map((row) => row.body) });
          });
          const mine = await app.request("/notes/mine", { headers: { "x-api-key": world.adaKey } });
          assert.equal(mine.status, 200);
          assert.deepEqual(await mine.json(), { userId: world.ada.id, notes: ["ada's note"] });
          assert.ok(
            mine.headers.get("ratelimit-remaining"),
            "the key's headers on the route's answer",
          );
          const refused = await app.request("/notes/mine", { headers: { "x-api-key": "lk_nope" } });
          assert.equal(refused.status, 401);
          assert.equal((await refusal(refused)).code, "unauthorized");
          assert.equal(reached, 1);
        },
      );
    } finally {
      await world.project.close();
      await world.auth.close();
    }
  },
});
