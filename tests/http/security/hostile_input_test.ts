import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- test-only, so not in deno.json (docs/testing.md, lockfiles)
import fc from "npm:fast-check@4.10.2";
import type postgres from "postgres";
import { operations } from "../../support/catalogue.ts";
import {
  adminKey,
  functionsUrl,
  issueKey,
  recordSecret,
  signUp,
  testClient,
  withDatabase,
} from "../../support/http.ts";

/**
 * Property: whatever arrives — wrong types, huge or deep bodies, invalid UTF-8, NUL bytes,
 * injection strings, duplicate keys, wrong content types, odd paths, queries and headers, with
 * and without valid credentials — no route answers 5xx, every error is the JSON envelope, and a
 * refused request changes no row.
 */

const runs = Number(Deno.env.get("LATCHKEY_FUZZ_RUNS") ?? 1500);

// Every declared operation, its body's field names and its query's parameter names come from
// the route catalogue (tests/support/catalogue.ts): a new route is fuzzed because it exists.
const routes: [string, string][] = operations.map(({ method, path }) => [method, path]);
// The routes that also take OAuth's token request (a form body): its errors are OAuth's shape.
const tokenRequestRoutes = operations.filter(({ doc }) => doc.oauthTokenRequest);
const takesTokenRequest = new Set(
  tokenRequestRoutes.map(({ method, path }) => `${method} ${path}`),
);

// Names the schemas do not declare, to see them refused, and prototype pollution.
const strangerFields = ["role", "tier", "userId", "__proto__", "constructor"];
const fieldNames = [...new Set([...operations.flatMap((op) => op.bodyFields), ...strangerFields])];

const nasty = [
  "' or 1=1 --",
  "'; drop table latchkey.users; --",
  '{"$ne": null}',
  "\u0000",
  "a\u0000b@example.com",
  "../../etc/passwd",
  "%00",
  "${7*7}",
  "<script>alert(1)</script>",
  "\ud800",
  "admin",
  "users:write",
  "lk_" + "A".repeat(49),
  "lks_" + "B".repeat(43),
  "-1",
  "1e309",
  "",
];

const hugeBody = JSON.stringify({ name: "x".repeat(1024 * 1024) });
const deepBody = "[".repeat(20_000) + "]".repeat(20_000);
const invalidUtf8 = new Uint8Array([
  0x7b,
  0x22,
  0x6e,
  0x22,
  0x3a,
  0x22,
  0xff,
  0xfe,
  0xc3,
  0x28,
  0x22,
  0x7d,
]);

const value = fc.oneof(
  fc.constantFrom(...nasty),
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom(...nasty)), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);

const body = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.dictionary(fc.constantFrom(...fieldNames), value, { maxKeys: 6 }).map((o) =>
      JSON.stringify(o)
    ),
  },
  { weight: 2, arbitrary: fc.json({ maxDepth: 3 }) },
  { weight: 2, arbitrary: fc.string({ maxLength: 60 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('{"email":"a@b.co","email":"x"}', "{", "null", "[]", '"str"', "0"),
  },
  { weight: 1, arbitrary: fc.constantFrom<string | Uint8Array>(deepBody, invalidUtf8) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

const contentType = fc.constantFrom(
  "application/json",
  "application/json; charset=utf-8",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/merge-patch+json",
  undefined,
);

const idSegment = fc.oneof(
  fc.uuid(),
  fc.constantFrom(
    // A lone surrogate cannot be percent-encoded; it is still sent in bodies.
    ...nasty.filter((text) => text !== "\ud800").map(encodeURIComponent),
    "..",
    "%2e%2e",
    "00000000-0000-0000-0000-000000000000",
  ),
  fc.string({ maxLength: 20 }).map((text) => encodeURIComponent(text.toWellFormed())),
);

const query = fc.dictionary(
  fc.constantFrom(...new Set([...operations.flatMap((op) => op.queryNames), "x"])),
  fc.oneof(fc.constantFrom(...nasty), fc.string({ maxLength: 20 }), fc.integer().map(String)),
  { maxKeys: 3 },
);

type Credential = "none" | "session" | "key" | "admin key" | "garbage";
const credential = fc.constantFrom<Credential>("none", "session", "key", "admin key", "garbage");

interface RowCounts {
  users: number;
  sessions: number;
  keys: number;
  revoked_keys: number;
  banned: number;
  admins: number;
  idempotency: number;
  orgs: number;
  memberships: number;
  invitations: number;
}

async function rowCounts(sql: postgres.Sql): Promise<RowCounts> {
  const [counts] = await sql<RowCounts[]>`
      select
        (select count(*)::int from latchkey.users) as users,
        (select count(*)::int from latchkey.sessions where revoked_at is null) as sessions,
        (select count(*)::int from latchkey.api_keys) as keys,
        (select count(*)::int from latchkey.api_keys where revoked_at is not null) as revoked_keys,
        (select count(*)::int from latchkey.users where banned_at is not null) as banned,
        (select count(*)::int from latchkey.users where role = 'admin') as admins,
        (select count(*)::int from latchkey.idempotency_records) as idempotency,
        (select count(*)::int from latchkey.organizations) as orgs,
        (select count(*)::int from latchkey.org_memberships) as memberships,
        (select count(*)::int from latchkey.org_invitations) as invitations`;
  return counts;
}

// One connection for the whole property: rows are counted twice per refused write, and a new
// connection each time made the test nine times slower (36 s against 4).
Deno.test("hostile input on every route: no 5xx, always the envelope, no partial writes", () =>
  withDatabase(async (sql) => {
    const account = await signUp("fuzz");
    const key = await issueKey(account.id, { name: "fuzz key", rateLimitPerMinute: 1_000_000 });
    const credentialHeaders: Record<Credential, Record<string, string>> = {
      "none": {},
      "session": { authorization: `Bearer ${account.token}` },
      "key": { "x-api-key": key.key },
      "admin key": { "x-admin-key": adminKey },
      "garbage": { authorization: "Bearer \u00ff\u00fe garbage" },
    };
    let cases = 0;
    const statuses = new Map<number, number>();

    const perRoute = new Map<string, number>();
    // Every route gets its share of the runs: coverage by construction, not by chance.
    for (const route of routes) {
      await fc.assert(
        fc.asyncProperty(
          fc.constant(route),
          body,
          contentType,
          idSegment,
          query,
          credential,
          fc.option(fc.string({ maxLength: 300 }), { nil: undefined }),
          async ([method, template], payload, type, id, params, who, idempotencyKey) => {
            cases += 1;
            perRoute.set(`${method} ${template}`, (perRoute.get(`${method} ${template}`) ?? 0) + 1);
            const path = template.replace(":id", id) +
              (Object.keys(params).length ? `?${new URLSearchParams(params)}` : "");
            // A client of its own per request, as a crowd: the fuzz never spends the throttles
            // of the clients other tests (and newman) are.
            const headers: Record<string, string> = { ...credentialHeaders[who], ...testClient() };
            if (type) headers["content-type"] = type;
            if (idempotencyKey !== undefined) {
              headers["idempotency-key"] = encodeURIComponent(idempotencyKey.toWellFormed());
            }
            const before = method === "GET" ? null : await rowCounts(sql);
            const response = await fetch(`${functionsUrl}${path}`, {
              method,
              headers,
              body: method === "GET" ? undefined : payload as BodyInit | undefined,
            });
            const text = await response.text();
            statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
            recordSecret(...[...text.matchAll(/"(?:token|key)":"([^"]+)"/g)].map((m) => m[1]));
            const context = `${method} ${path} as ${who}: ${response.status} ${text.slice(0, 200)}`;
            assert.ok(response.status < 500, context);
            if (response.status >= 400) {
              const parsed = JSON.parse(text);
              // A non-empty form; an empty one is the route's own call (http/oauth_form.ts).
              const form = takesTokenRequest.has(`${method} ${template}`) &&
                type?.startsWith("application/x-www-form-urlencoded") &&
                payload !== undefined && payload.length > 0;
              if (form && response.status !== 413) {
                assertOAuthError(parsed, response, context);
              } else {
                assert.equal(typeof parsed.error.code, "string", context);
                assert.equal(typeof parsed.error.message, "string", context);
                assert.equal(parsed.error.requestId, response.headers.get("x-request-id"), context);
              }
              if (before) {
                const after = await rowCounts(sql);
                assert.deepEqual(after, before, `a refused request changed rows: ${context}`);
              }
            }
          },
        ),
        {
          numRuns: Math.ceil(runs / routes.length),
          seed: Number(Deno.env.get("LATCHKEY_FUZZ_SEED") ?? Date.now() % 2 ** 31),
        },
      );
    }
    const unfuzzed = routes.map(([method, path]) => `${method} ${path}`)
      .filter((route) => !perRoute.get(route));
    assert.deepEqual(unfuzzed, [], "every declared route is fuzzed");

    // The 1 MB body on every route that takes one: 413 before parsing, nothing written.
    for (const [method, template] of routes.filter(([method]) => method !== "GET")) {
      const before = await rowCounts(sql);
      const response = await fetch(
        `${functionsUrl}${template.replace(":id", crypto.randomUUID())}`,
        {
          method,
          headers: { "content-type": "application/json", "x-admin-key": adminKey },
          body: hugeBody,
        },
      );
      const parsed = await response.json();
      assert.equal(response.status, 413, `${method} ${template}`);
      assert.equal(parsed.error.code, "payload_too_large");
      assert.deepEqual(await rowCounts(sql), before);
      cases += 1;
    }
    console.log(
      `${cases} generated requests; statuses ${
        JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))
      }`,
    );
  }));

/** OAuth's error shape (RFC 6749 §5.2), with the request id the envelope would carry. */
function assertOAuthError(
  parsed: { error?: unknown; error_description?: unknown; request_id?: unknown },
  response: Response,
  context: string,
) {
  assert.equal(typeof parsed.error, "string", context);
  assert.equal(typeof parsed.error_description, "string", context);
  assert.match(parsed.error_description as string, /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/, context);
  assert.equal(parsed.request_id, response.headers.get("x-request-id"), context);
}

const formRuns = Number(Deno.env.get("LATCHKEY_FUZZ_FORM_RUNS") ?? 300);

// OAuth's token request is a form, which the property above mostly sends JSON-shaped text as:
// here, forms built from the declared parameters (repeated, empty, huge, badly escaped, not
// UTF-8) and every way a client authenticates in it, right or wrong.
Deno.test("hostile forms on OAuth's token request: no 5xx, always OAuth's shape, no writes", () =>
  withDatabase(async (sql) => {
    assert.ok(tokenRequestRoutes.length > 0, "POST /auth/token takes OAuth's token request");
    const account = await signUp("fuzz-form");
    const key = await issueKey(account.id, { name: "fuzz form", rateLimitPerMinute: 1_000_000 });
    const other = await issueKey(account.id, { name: "fuzz other", rateLimitPerMinute: 1_000_000 });
    const statuses = new Map<number, number>();
    for (const { method, path, doc } of tokenRequestRoutes) {
      const names = [
        "grant_type",
        ...Object.keys(doc.oauthTokenRequest!.body.shape),
        "username",
        "__proto__",
        "",
      ];
      const formValue = fc.oneof(
        {
          weight: 4,
          arbitrary: fc.constantFrom(
            "client_credentials",
            "password",
            key.id,
            key.key,
            other.id,
            other.key,
            "compile",
            "compile users:write",
            ...nasty,
          ),
        },
        { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
        {
          weight: 1,
          arbitrary: fc.integer({ min: 1, max: 30_000 }).map((length) => "x".repeat(length)),
        },
      );
      const escaped = (text: string) =>
        fc.constantFrom(
          encodeURIComponent(text.toWellFormed()),
          text.replaceAll("&", "").replaceAll("=", ""),
          `${encodeURIComponent(text.toWellFormed())}%`,
          `%ZZ${text.length}%E0%A4`,
        );
      const pair = fc.tuple(fc.constantFrom(...names), formValue).chain(([name, value]) =>
        fc.tuple(escaped(name), escaped(value)).map(([n, v]) => `${n}=${v}`)
      );
      // Mostly the grant itself, so the forms reach client authentication and the key check.
      const formBody = fc.oneof(
        {
          weight: 6,
          arbitrary: fc.array(pair, { maxLength: 5 }).map((pairs) =>
            ["grant_type=client_credentials", ...pairs].join("&")
          ),
        },
        { weight: 3, arbitrary: fc.array(pair, { maxLength: 6 }).map((pairs) => pairs.join("&")) },
        { weight: 1, arbitrary: fc.constantFrom<string | Uint8Array>(invalidUtf8, "&&&===", "") },
      );
      const basic = (id: string, secret: string) =>
        `Basic ${btoa(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`)}`;
      const authorization = fc.oneof(
        fc.constant(undefined),
        fc.constantFrom(
          basic(key.id, key.key),
          basic(other.id, key.key),
          basic(crypto.randomUUID(), other.key),
          basic("", ""),
          `Bearer ${key.key}`,
          "Basic",
          "Basic ====",
          `Basic ${btoa("\xff\xfe:\xfd")}`,
          `Basic ${btoa("%E0%A4%A:%")}`,
        ),
        fc.string({ maxLength: 60 }).map((text) =>
          `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(text)))}`
        ),
      );
      await fc.assert(
        fc.asyncProperty(formBody, authorization, async (payload, auth) => {
          const headers: Record<string, string> = {
            "content-type": "application/x-www-form-urlencoded",
            ...testClient(),
          };
          if (auth !== undefined) headers.authorization = auth;
          const before = await rowCounts(sql);
          const response = await fetch(`${functionsUrl}${path}`, {
            method,
            headers,
            body: payload as BodyInit,
          });
          const text = await response.text();
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          const context = `${method} ${path} ${String(payload).slice(0, 120)} (${auth}): ` +
            `${response.status} ${text.slice(0, 200)}`;
          assert.ok(response.status < 500, context);
          const parsed = JSON.parse(text);
          if (response.status === 200) {
            assert.equal(typeof parsed.access_token, "string", context);
            recordSecret(parsed.access_token);
          } else if (response.status === 413 || String(payload) === "") {
            // The body limit's 413; an empty form is the route's own call, with the envelope.
            assert.equal(typeof parsed.error.code, "string", context);
          } else {
            assertOAuthError(parsed, response, context);
          }
          assert.deepEqual(await rowCounts(sql), before, `rows changed: ${context}`);
        }),
        {
          numRuns: Math.ceil(formRuns / tokenRequestRoutes.length),
          seed: Number(Deno.env.get("LATCHKEY_FUZZ_SEED") ?? Date.now() % 2 ** 31),
        },
      );
    }
    console.log(
      `${formRuns} generated forms; statuses ${
        JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))
      }`,
    );
  }));

// Regressions the property above found, kept as plain cases.
Deno.test("NUL characters in paths, bodies and queries are refused, not a 500", async () => {
  const admin = { "x-admin-key": adminKey, "content-type": "application/json" };
  const cases: [string, string, string | undefined][] = [
    ["PATCH", "/admin/users/a%00b%40example.com", "{}"],
    [
      "POST",
      "/auth/sign-up/email",
      '{"name":"a\\u0000b","email":"n@example.test","password":"0123456789"}',
    ],
    ["GET", "/admin/users?q=a%00b", undefined],
  ];
  for (const [method, path, payload] of cases) {
    const response = await fetch(`${functionsUrl}${path}`, {
      method,
      headers: admin,
      body: payload,
    });
    const parsed = await response.json();
    assert.ok(
      response.status >= 400 && response.status < 500,
      `${method} ${path}: ${response.status}`,
    );
    assert.equal(typeof parsed.error.code, "string");
  }
});
