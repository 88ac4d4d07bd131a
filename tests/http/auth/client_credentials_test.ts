import assert from "node:assert/strict";
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from "jose";
// deno-lint-ignore no-import-prefix -- test-only, so not in deno.json (docs/testing.md, lockfiles)
import * as oauth from "npm:oauth4webapi@3.8.9";
import { newSigningKey } from "../../../functions/_local/jwt_keygen.ts";
import { generateApiKey } from "../../../functions/_shared/keys/api_key_format.ts";
import {
  addNote,
  createFixtureTable,
  insertNotesAsOwner,
  visibleNotes,
} from "../../support/data_api.ts";
import { type InProcessFunctions, serveFunctions } from "../../support/in_process.ts";
import { insertOrg, insertOrgKey, insertTeamPermission } from "../../support/orgs.ts";
import {
  defaultPassword,
  minutesTouched,
  recordSecret,
  uniqueEmail,
  withDatabase,
} from "../../support/http.ts";

/**
 * OAuth 2.0 client credentials on POST /auth/token as a machine uses it: oauth4webapi, a
 * maintained OAuth client, discovers the issuer and asks for tokens with an API key's id and the
 * key, by HTTP Basic and in the body; the token is verified against our JWKS and used as
 * PostgREST uses it. Then what an attacker or a broken machine gets: OAuth's errors, never the
 * token, and a throttle on failed client authentications.
 */

// auth.uid(), auth.jwt() and the authenticator role exist on our hosted-like clusters only.
const withoutDataApi = !Deno.env.get("LATCHKEY_TEST_SUPERUSER_URL");
const adminKey = `client-credentials-test-${crypto.randomUUID()}`;
recordSecret(adminKey);

let clients = 0;
/** A network client of its own (as behind one proxy), so no test spends another's throttle. */
const newClient = () => ({
  "x-forwarded-for": `203.0.113.${(clients = (clients + 1) % 250) + 1}`,
});

type Served = InProcessFunctions & { issuer: URL };

async function withServed(env: Record<string, string>, work: (served: Served) => Promise<void>) {
  const served = serveFunctions({
    LATCHKEY_ENV: "test",
    LATCHKEY_SCOPES: "compile,notes:write",
    LATCHKEY_ADMIN_KEY: adminKey,
    LATCHKEY_TRUSTED_PROXY_HOPS: "1",
    LATCHKEY_JWT_SIGNING_KEYS: JSON.stringify({ keys: [await newSigningKey()] }),
    ...env,
  });
  try {
    await work({ ...served, issuer: new URL(`${served.base}/auth`) });
  } finally {
    await served.close();
  }
}

async function asAdmin(served: Served, method: string, path: string, body?: unknown) {
  const result = await served.call(method, path, { "x-admin-key": adminKey }, body);
  assert.ok(result.status < 300, `${method} ${path}: ${JSON.stringify(result.body)}`);
  return result.body;
}

/** A service account (no password, no hash to compute) and a key of it. */
async function machine(served: Served, key: Record<string, unknown> = {}) {
  const { user } = await asAdmin(served, "POST", "/admin/users", {
    email: uniqueEmail("machine"),
    name: "Machine",
    serviceAccount: true,
  });
  return { userId: user.id as string, ...await keyOf(served, user.id, key) };
}

async function keyOf(served: Served, userId: string, key: Record<string, unknown> = {}) {
  const issued = await asAdmin(served, "POST", "/admin/keys", {
    userId,
    name: "oauth client",
    scopes: ["compile", "notes:write"],
    rateLimitPerMinute: 10_000,
    ...key,
  });
  recordSecret(issued.key);
  return { id: issued.id as string, key: issued.key as string };
}

const basic = (id: string, secret: string) =>
  `Basic ${btoa(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`)}`;

/** A token request as any HTTP client sends it: a form body, headers as given. */
async function tokenRequest(
  served: Served,
  form: Record<string, string> | string,
  headers: Record<string, string> = {},
) {
  const response = await served.fetch(`${served.base}/auth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...newClient(), ...headers },
    body: typeof form === "string" ? form : new URLSearchParams(form),
  });
  // deno-lint-ignore no-explicit-any -- tests read whatever the route answered
  const body: any = await response.json();
  if (response.status === 200) recordSecret(body.access_token);
  return { status: response.status, headers: response.headers, body };
}

/** Asserts OAuth's error shape (RFC 6749 §5.2) with `error` and the status, and returns it. */
function oauthError(
  result: Awaited<ReturnType<typeof tokenRequest>>,
  status: number,
  error: string,
) {
  const context = JSON.stringify(result.body);
  assert.equal(result.status, status, context);
  assert.equal(result.body.error, error, context);
  assert.equal(typeof result.body.error_description, "string");
  assert.match(result.body.error_description, /^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/, "RFC's charset");
  assert.equal(result.body.request_id, result.headers.get("x-request-id"));
  assert.equal(result.body.access_token, undefined);
  assert.equal(result.headers.get("cache-control"), "no-store");
  assert.equal(result.headers.get("pragma"), "no-cache");
  if (status === 401) assert.match(result.headers.get("www-authenticate") ?? "", /^Basic /);
  return result.body as { error: string; error_description: string };
}

/** oauth4webapi's whole exchange for `clientAuthentication`: request, checked response. */
async function grant(
  served: Served,
  as: oauth.AuthorizationServer,
  clientId: string,
  clientAuthentication: oauth.ClientAuth,
  scope?: string,
) {
  const options = { [oauth.allowInsecureRequests]: true, headers: newClient() };
  const client: oauth.Client = { client_id: clientId };
  const response = await oauth.clientCredentialsGrantRequest(
    as,
    client,
    clientAuthentication,
    scope === undefined ? {} : { scope },
    { ...options, [oauth.customFetch]: served.fetch },
  );
  assert.equal(response.headers.get("cache-control"), "no-store");
  assert.equal(response.headers.get("pragma"), "no-cache");
  const result = await oauth.processClientCredentialsResponse(as, client, response);
  recordSecret(result.access_token);
  return result;
}

async function discover(served: Served) {
  const response = await oauth.discoveryRequest(served.issuer, {
    algorithm: "oidc",
    [oauth.allowInsecureRequests]: true,
    [oauth.customFetch]: served.fetch,
  });
  return await oauth.processDiscoveryResponse(served.issuer, response);
}

Deno.test({
  name: "a machine gets a Data API token the standard way: discovery, client_secret_basic and " +
    "client_secret_post, its scope narrowed, its owner's RLS",
  ignore: withoutDataApi,
  fn: () =>
    withServed({}, async (served) => {
      const as = await discover(served);
      assert.equal(as.token_endpoint, `${served.issuer}/token`);
      assert.deepEqual(as.grant_types_supported, ["client_credentials"]);
      assert.deepEqual(as.token_endpoint_auth_methods_supported, [
        "client_secret_basic",
        "client_secret_post",
      ]);
      assert.ok(as.scopes_supported?.includes("notes:write"));
      // RFC 8414's name for the same document, under the issuer.
      const metadata = await served.call("GET", "/auth/.well-known/oauth-authorization-server");
      assert.deepEqual(metadata.body, as);

      await createFixtureTable();
      const svc = await machine(served);
      const other = await machine(served);
      await insertNotesAsOwner(svc.userId, "the machine's");
      await insertNotesAsOwner(other.userId, "another machine's");
      const verify = async (token: string) =>
        (await jwtVerify(
          token,
          createRemoteJWKSet(new URL(as.jwks_uri!)),
          { issuer: as.issuer, audience: "authenticated", algorithms: ["ES256"] },
        )).payload as JWTPayload & Record<string, unknown>;

      // HTTP Basic, narrowed to one scope: oauth4webapi form-urlencodes the id and the key
      // (`-` and `_` as %2D and %5F) before base64, as RFC 6749 §2.3.1 says.
      const narrowed = await grant(
        served,
        as,
        svc.id,
        oauth.ClientSecretBasic(svc.key),
        "notes:write",
      );
      assert.equal(narrowed.token_type, "bearer");
      assert.equal(narrowed.expires_in, 600);
      assert.equal(narrowed.scope, "notes:write");
      const writer = await verify(narrowed.access_token);
      assert.equal(writer.sub, svc.userId);
      assert.equal(writer.key_id, svc.id);
      assert.deepEqual(writer.scopes, ["notes:write"]);
      assert.equal(writer.scope, "notes:write");
      assert.equal(writer.aal, "aal1");
      assert.deepEqual((writer.amr as { method: string }[]).map((entry) => entry.method), [
        "api_key",
      ]);
      assert.deepEqual(await visibleNotes(writer), ["the machine's"], "its owner's rows only");
      await addNote(writer, "written by the machine");

      // In the body, no scope asked: all the key's scopes; narrowed to compile, no writing.
      const whole = await grant(served, as, svc.id, oauth.ClientSecretPost(svc.key));
      assert.equal(whole.scope, "compile notes:write");
      assert.deepEqual((await verify(whole.access_token)).scopes, ["compile", "notes:write"]);
      const reader = await verify(
        (await grant(served, as, svc.id, oauth.ClientSecretPost(svc.key), "compile"))
          .access_token,
      );
      assert.deepEqual(await visibleNotes(reader), ["the machine's", "written by the machine"]);
      await assert.rejects(
        () => addNote(reader, "needs notes:write"),
        (error: { code?: string }) => error.code === "42501",
        "a scope left out of the token is not held by it",
      );

      // The same claims as the JSON route's token for the same key.
      const json = await served.call("POST", "/auth/token", { "x-api-key": svc.key });
      assert.equal(json.status, 200, JSON.stringify(json.body));
      recordSecret(json.body.access_token);
      const viaJson = await verify(json.body.access_token);
      const viaOAuth = await verify(whole.access_token);
      const stable = (claims: Record<string, unknown>) => {
        const { jti: _j, iat: _i, nbf: _n, exp: _e, amr, ...rest } = claims;
        return { ...rest, amr: (amr as { method: string }[]).map(({ method }) => method) };
      };
      assert.deepEqual(stable(viaOAuth), stable(viaJson));
    }),
});

Deno.test({
  name: "an organization's key is a client too: its token speaks for the organization, with " +
    "the claims of the JSON route's, and stops with a suspension",
  ignore: withoutDataApi,
  fn: () =>
    withServed({}, async (served) => {
      const as = await discover(served);
      const write = await insertTeamPermission();
      const orgId = await insertOrg(["compile", write]);
      const client = await insertOrgKey(orgId, ["compile", write]);
      const verify = async (token: string) =>
        (await jwtVerify(token, createRemoteJWKSet(new URL(as.jwks_uri!)), {
          issuer: as.issuer,
          audience: "authenticated",
        })).payload as JWTPayload & Record<string, unknown>;

      const whole = await grant(served, as, client.id, oauth.ClientSecretBasic(client.key));
      assert.equal(whole.scope, `compile ${write}`);
      const claims = await verify(whole.access_token);
      assert.deepEqual(
        [claims.sub, claims.key_id, claims.org_id, claims.org_role, claims.permissions],
        [client.id, client.id, orgId, null, [write]],
      );
      const narrowed = await verify(
        (await grant(served, as, client.id, oauth.ClientSecretPost(client.key), "compile"))
          .access_token,
      );
      assert.deepEqual([narrowed.org_id, narrowed.permissions], [orgId, []]);

      const json = await served.call("POST", "/auth/token", { "x-api-key": client.key });
      assert.equal(json.status, 200, JSON.stringify(json.body));
      recordSecret(json.body.access_token);
      const stable = (token: Record<string, unknown>) => {
        const { jti: _j, iat: _i, nbf: _n, exp: _e, amr: _a, ...rest } = token;
        return rest;
      };
      assert.deepEqual(stable(await verify(json.body.access_token)), stable(claims));

      await withDatabase((sql) =>
        sql`update latchkey.organizations set suspended_at = now() where id = ${orgId}`
      );
      oauthError(
        await tokenRequest(served, { grant_type: "client_credentials" }, {
          authorization: basic(client.id, client.key),
        }),
        400,
        "unauthorized_client",
      );
    }),
});

Deno.test("client credentials refusals answer OAuth's errors, the key's and its owner's state included", () =>
  withServed({}, async (served) => {
    const as = await discover(served);
    const svc = await machine(served);
    const other = await machine(served);

    // A person's key is a client too: the JSON route gives its holder the same token.
    const { user } = await asAdmin(served, "POST", "/admin/users", {
      email: uniqueEmail("person"),
      name: "Person",
      password: defaultPassword,
    });
    const personal = await keyOf(served, user.id, { scopes: ["compile"] });
    const ok = await tokenRequest(served, { grant_type: "client_credentials" }, {
      authorization: basic(personal.id, personal.key),
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.token_type, "Bearer");
    assert.equal(ok.body.scope, "compile");
    assert.ok(ok.headers.get("ratelimit-remaining"), "a use of the key, metered");

    // oauth4webapi sees the 401's challenge first, then the body: invalid_client.
    const wrongSecret = await grant(
      served,
      as,
      svc.id,
      oauth.ClientSecretBasic(generateApiKey("lk").key),
    ).then(() => null, (error) => error);
    assert.ok(wrongSecret instanceof oauth.WWWAuthenticateChallengeError, String(wrongSecret));
    assert.equal(wrongSecret.status, 401);
    assert.equal(wrongSecret.cause[0].scheme, "basic");
    assert.equal((await wrongSecret.response.json()).error, "invalid_client");
    const badScope = await grant(served, as, svc.id, oauth.ClientSecretPost(svc.key), "users:read")
      .then(() => null, (error) => error);
    assert.ok(badScope instanceof oauth.ResponseBodyError, String(badScope));
    assert.equal(badScope.error, "invalid_scope");
    assert.equal(badScope.status, 400);

    const form = (extra: Record<string, string> = {}) => ({
      grant_type: "client_credentials",
      ...extra,
    });
    const asBasic = (id: string, key: string) => ({ authorization: basic(id, key) });
    // An unknown id, a key that is nobody's, another key's id: the same answer, word for word.
    const failures = [
      await tokenRequest(served, form(), asBasic(crypto.randomUUID(), svc.key)),
      await tokenRequest(served, form(), asBasic(svc.id, other.key)),
      await tokenRequest(served, form({ client_id: svc.id, client_secret: `${svc.key}x` })),
      await tokenRequest(served, form({ client_id: "svc", client_secret: svc.key })),
    ].map((result) => oauthError(result, 401, "invalid_client"));
    assert.equal(new Set(failures.map((failure) => failure.error_description)).size, 1);
    oauthError(await tokenRequest(served, form()), 401, "invalid_client");
    oauthError(
      await tokenRequest(served, form(), { authorization: `Bearer ${svc.key}` }),
      401,
      "invalid_client",
    );
    // Neither the JSON route's credentials nor a session count as client authentication.
    oauthError(
      await tokenRequest(served, form({ client_id: svc.id }), { "x-api-key": svc.key }),
      401,
      "invalid_client",
    );

    oauthError(
      await tokenRequest(served, form({ client_secret: svc.key }), asBasic(svc.id, svc.key)),
      400,
      "invalid_request",
    );
    oauthError(
      await tokenRequest(served, form({ client_id: other.id }), asBasic(svc.id, svc.key)),
      400,
      "invalid_request",
    );
    oauthError(
      await tokenRequest(served, { grant_type: "password", username: "a", password: "b" }),
      400,
      "unsupported_grant_type",
    );
    oauthError(await tokenRequest(served, { client_id: svc.id }), 400, "invalid_request");
    oauthError(
      await tokenRequest(served, form({ scope: "compile notes:write users:write" }), {
        authorization: basic(personal.id, personal.key),
      }),
      400,
      "invalid_scope",
    );
    // The JSON form keeps its envelope.
    const json = await served.call("POST", "/auth/token", {}, {});
    assert.equal(json.status, 401);
    assert.equal(json.body.error.code, "unauthorized");
    assert.match(json.headers.get("www-authenticate") ?? "", /^Bearer /);

    // The key's and its owner's state, as the JSON route tells the key's holder.
    const state = async (change: (key: { id: string; userId: string }) => Promise<unknown>) => {
      const key = await machine(served);
      await change(key);
      return await tokenRequest(served, form(), asBasic(key.id, key.key));
    };
    const banned = oauthError(
      await state((key) =>
        asAdmin(served, "PATCH", `/admin/users/${key.userId}`, { banned: true })
      ),
      400,
      "unauthorized_client",
    );
    assert.match(banned.error_description, /suspended/);
    assert.match(
      oauthError(
        await state((key) => asAdmin(served, "PATCH", `/admin/keys/${key.id}`, { enabled: false })),
        400,
        "unauthorized_client",
      ).error_description,
      /disabled/,
    );
    assert.match(
      oauthError(
        await state((key) => asAdmin(served, "POST", `/admin/keys/${key.id}/revoke`)),
        401,
        "invalid_client",
      ).error_description,
      /revoked/,
    );
    assert.match(
      oauthError(
        await state((key) =>
          withDatabase((sql) =>
            sql`update latchkey.api_keys set expires_at = now() - interval '1 second'
              where id = ${key.id}`
          )
        ),
        401,
        "invalid_client",
      ).error_description,
      /expired/,
    );

    // A token is a use of the key: its rate limit, and one of its credits.
    for (
      const [limits, code] of [[{ rateLimitPerMinute: 1 }, "rate_limited"], [
        { remaining: 1 },
        "usage_exceeded",
      ]] as const
    ) {
      const key = await machine(served, limits);
      const first = await tokenRequest(served, form(), asBasic(key.id, key.key));
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const second = oauthError(
        await tokenRequest(served, form(), asBasic(key.id, key.key)),
        429,
        code,
      );
      assert.ok(second.error_description);
    }
  }));

Deno.test("failed client authentications are throttled per client, right secret or wrong; audited once a minute", () =>
  withServed({ LATCHKEY_CLIENT_CREDENTIALS_MAX_FAILURES: "3" }, async (served) => {
    const svc = await machine(served);
    const guesser = newClient();
    const form = { grant_type: "client_credentials" };
    const [statuses, minutes] = await minutesTouched(async () => {
      const seen: number[] = [];
      for (let i = 0; i < 5; i++) {
        // Well-formed, so each one is looked up: a key that is nobody's.
        const guess = generateApiKey("lk").key;
        const result = await tokenRequest(served, form, {
          ...guesser,
          authorization: basic(svc.id, guess),
        });
        seen.push(result.status);
        if (result.status === 429) {
          assert.equal(oauthError(result, 429, "too_many_requests").error, "too_many_requests");
          assert.ok(Number(result.headers.get("retry-after")) > 0);
        }
      }
      return seen;
    });
    // The third failure spends the budget of 3 and is itself refused (then one per 5 minutes).
    assert.deepEqual(statuses, [401, 401, 429, 429, 429]);
    // The right secret from that client is refused too, unchecked: a guesser learns nothing.
    const right = await tokenRequest(served, form, {
      ...guesser,
      authorization: basic(svc.id, svc.key),
    });
    oauthError(right, 429, "too_many_requests");
    const [{ used }] = await withDatabase((sql) =>
      sql<{ used: boolean }[]>`select last_used_at is not null as used from latchkey.api_keys
        where id = ${svc.id}`
    );
    assert.equal(used, false, "a throttled request never reaches the key's check");
    // Another client is not this one's throttle.
    const elsewhere = await tokenRequest(served, form, { authorization: basic(svc.id, svc.key) });
    assert.equal(elsewhere.status, 200, JSON.stringify(elsewhere.body));

    const audited = await withDatabase((sql) =>
      sql<{ metadata: { client: string; clientId: string; reason: string } }[]>`
        select metadata from latchkey.audit_events
        where action = 'auth.client_authentication_failed'
          and metadata ->> 'client' = ${guesser["x-forwarded-for"]}`
    );
    assert.ok(audited.length >= 1 && audited.length <= minutes, `${audited.length} rows`);
    assert.equal(audited[0].metadata.clientId, svc.id);
    assert.equal(audited[0].metadata.reason, "unknown_secret");

    // Id and secret swapped: the key sent as the id never reaches the audit log.
    const swapper = newClient();
    oauthError(
      await tokenRequest(served, { ...form, client_id: svc.key, client_secret: svc.id }, swapper),
      401,
      "invalid_client",
    );
    const [swapped] = await withDatabase((sql) =>
      sql<{ metadata: Record<string, unknown> }[]>`
        select metadata from latchkey.audit_events
        where action = 'auth.client_authentication_failed'
          and metadata ->> 'client' = ${swapper["x-forwarded-for"]}`
    );
    assert.deepEqual(swapped.metadata, {
      client: swapper["x-forwarded-for"],
      clientId: null,
      reason: "malformed",
    });
  }));

Deno.test("the form is read by OAuth's rules, and no hostile form is a 500", () =>
  withServed({}, async (served) => {
    const svc = await machine(served);
    const auth = { authorization: basic(svc.id, svc.key) };
    // Repeated parameters are refused, however they are spelled out.
    for (
      const body of [
        "grant_type=client_credentials&grant_type=client_credentials",
        "grant_type=client_credentials&scope=compile&scope=notes%3Awrite",
        `grant_type=client_credentials&client_id=${svc.id}&client_id=${svc.id}`,
      ]
    ) {
      assert.match(
        oauthError(await tokenRequest(served, body, auth), 400, "invalid_request")
          .error_description,
        /once/,
        body,
      );
    }
    // A parameter with no value is absent (RFC 6749 §3.2); unknown ones are ignored; the media
    // type's parameters do not matter.
    const lenient = await tokenRequest(
      served,
      "grant_type=client_credentials&scope=&unknown=1&unknown=2",
      { ...auth, "content-type": "application/x-www-form-urlencoded; charset=ISO-8859-1" },
    );
    assert.equal(lenient.status, 200, JSON.stringify(lenient.body));
    assert.equal(lenient.body.scope, "compile notes:write");

    const huge = "x".repeat(60_000);
    const cases: [string | Record<string, string>, Record<string, string>, number][] = [
      [{ grant_type: "client_credentials", scope: huge }, auth, 400],
      [
        {
          grant_type: "client_credentials",
          client_id: huge.slice(30_000),
          client_secret: huge.slice(30_000),
        },
        {},
        400,
      ],
      [{ grant_type: huge }, auth, 400],
      ["grant_type=client_credentials&scope=%ZZ%E0%A4%A", auth, 400],
      ["grant_type=client_credentials&scope=%00", auth, 400],
      ["grant_type=client%00credentials", auth, 400],
      ["%FF%FE=%C3%28&grant_type=client_credentials", auth, 200],
      ["grant_type", auth, 400],
      ["===&&&=", auth, 400],
      [`grant_type=client_credentials&scope=${"compile+".repeat(500)}`, auth, 200],
      [{ grant_type: "client_credentials" }, { authorization: "Basic %%%" }, 401],
      [{ grant_type: "client_credentials" }, { authorization: `Basic ${btoa("\xff\xfe:x")}` }, 401],
      [{ grant_type: "client_credentials" }, { authorization: `Basic ${btoa("no colon")}` }, 401],
      [{ grant_type: "client_credentials" }, { authorization: `Basic ${btoa("%E0%A4%A:x")}` }, 401],
      [{ grant_type: "client_credentials" }, { authorization: `Basic ${"A".repeat(20_000)}` }, 401],
    ];
    for (const [body, headers, status] of cases) {
      const result = await tokenRequest(served, body, headers);
      const context = `${JSON.stringify(body).slice(0, 80)}: ${JSON.stringify(result.body)}`;
      assert.equal(result.status, status, context);
      if (status >= 400) oauthError(result, status, result.body.error);
    }
    // Raw bytes that are not UTF-8 are read as U+FFFD: a bad request, not a crash.
    const bytes = await served.fetch(`${served.base}/auth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...auth, ...newClient() },
      body: new Uint8Array([
        0x67,
        0x72,
        0x61,
        0x6e,
        0x74,
        0x5f,
        0x74,
        0x79,
        0x70,
        0x65,
        0x3d,
        0xff,
      ]),
    });
    assert.equal(bytes.status, 400);
    assert.equal((await bytes.json()).error, "unsupported_grant_type");
    // An empty form is no token request of OAuth's: `curl -d ''` with a key is the JSON call.
    const emptyForm = await tokenRequest(served, "", { "x-api-key": svc.key });
    assert.equal(emptyForm.status, 200, JSON.stringify(emptyForm.body));
    assert.equal(emptyForm.body.token_type, "bearer");
    assert.equal(typeof emptyForm.body.expires_at, "number");
    const emptyRefused = await tokenRequest(served, "");
    assert.equal(emptyRefused.body.error.code, "unauthorized", "the envelope, not OAuth's");
    // Over the body limit: the 413 every route answers before reading a body.
    const tooLarge = await tokenRequest(served, {
      grant_type: "client_credentials",
      scope: "x".repeat(70_000),
    }, auth);
    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.body.error.code, "payload_too_large");
  }));

Deno.test("without signing configured the grant answers 501 in OAuth's shape, not a token", () =>
  withServed({ LATCHKEY_JWT_SIGNING_KEYS: "" }, async (served) => {
    const svc = await machine(served);
    const result = await tokenRequest(served, { grant_type: "client_credentials" }, {
      authorization: basic(svc.id, svc.key),
    });
    assert.match(oauthError(result, 501, "not_configured").error_description, /SIGNING_KEYS/);
  }));
