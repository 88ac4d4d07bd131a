import assert from "node:assert/strict";
import type { Route } from "../../functions/_shared/api/routes.ts";
import { functionApps, functionDefinitions } from "../../functions/_local/deployed_functions.ts";
import { z } from "zod";
import { call, createKey, latchkey, mintToken, signUp, verifyKey } from "../support/http.ts";

// deno-lint-ignore no-explicit-any
type Item = any;

const functions = Object.fromEntries(
  functionDefinitions.map(({ name, routes }) => [name, { app: functionApps[name], routes }]),
);

Deno.test("every route a function serves is a declared route, and nothing else", () => {
  for (const [name, { app, routes }] of Object.entries(functions)) {
    const served = app.routes
      .filter((route) => route.method !== "ALL" && !route.path.endsWith("/openapi.json"))
      .map((route) => `${route.method} ${route.path}`);
    const declared = routes.map(({ doc }: Route) =>
      `${doc.method.toUpperCase()} /${name}${doc.path === "/" ? "" : doc.path}`
    ).sort();
    assert.deepEqual([...new Set(served)].sort(), declared, name);
  }
});

// The credential checks are derived from the same declarations the document is made of; this
// asks the running server whether the document's claims hold.
Deno.test("what the document says about credentials is what the server enforces", async () => {
  const spec = (await call("GET", "/openapi.json")).body;
  let checked = 0;
  for (const [path, operations] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(operations as Record<string, Item>)) {
      const url = path.replace(/\{\w+\}/g, crypto.randomUUID());
      const anonymous = await call(method.toUpperCase(), url, {
        body: operation.requestBody ? {} : undefined,
      });
      const needsCredential = operation.security.length > 0;
      assert.equal(
        anonymous.status === 401,
        needsCredential,
        `${method.toUpperCase()} ${path} without a credential: ${anonymous.status}`,
      );
      assert.ok(
        String(anonymous.status) in operation.responses,
        `${method.toUpperCase()} ${path}: ${anonymous.status} is not documented`,
      );
      checked += 1;
    }
  }
  assert.equal(checked, Object.values(functions).reduce((sum, f) => sum + f.routes.length, 0));
});

Deno.test("routes that take a body answer the documented 415 for non-JSON and 400 for a bad body", async () => {
  const spec = (await call("GET", "/openapi.json")).body;
  const open = Object.entries(spec.paths).flatMap(([path, operations]) =>
    Object.entries(operations as Record<string, Item>)
      .filter(([, operation]) => operation.requestBody && operation.security.length === 0)
      .map(([method, operation]) => ({ method: method.toUpperCase(), path, operation }))
  );
  assert.ok(open.length >= 3, "sign-up, sign-in and verify take a body without a credential");
  for (const { method, path, operation } of open) {
    const text = await call(method, path, {
      rawBody: "hello",
      headers: { "content-type": "text/plain" },
    });
    assert.equal(text.status, 415, `${method} ${path}`);
    assert.ok("415" in operation.responses);
    const invalid = await call(method, path, { body: { unexpected: true } });
    assert.equal(invalid.status, 400, `${method} ${path}`);
    assert.ok(invalid.body.error.details.length > 0);
    assert.ok("400" in operation.responses);
  }
});

Deno.test("GET /functions/v1/openapi.json describes the whole API in OpenAPI 3.1", async () => {
  const result = await call("GET", "/openapi.json");
  assert.equal(result.status, 200);
  const spec = result.body;
  assert.equal(spec.openapi, "3.1.0");
  assert.deepEqual(spec.tags.map((tag: { name: string }) => tag.name), Object.keys(functions));
  assert.deepEqual(Object.keys(spec.components.securitySchemes).sort(), [
    "adminKey",
    "apiKey",
    "challenge",
    "clientSecretBasic",
    "session",
  ]);
  assert.equal(spec.components.securitySchemes.adminKey.name, "X-Admin-Key");
  const operations = Object.values(spec.paths).flatMap((item) => Object.values(item as object));
  const routeCount = Object.values(functions).reduce((sum, f) => sum + f.routes.length, 0);
  assert.equal(operations.length, routeCount);
  for (const operation of operations) {
    // OAuth's token request answers its own errors' shape beside the envelope.
    const error = operation.requestBody?.content["application/x-www-form-urlencoded"]
      ? {
        oneOf: [
          { $ref: "#/components/schemas/Error" },
          { $ref: "#/components/schemas/OAuthError" },
        ],
      }
      : { $ref: "#/components/schemas/Error" };
    for (const [status, response] of Object.entries(operation.responses)) {
      if (Number(status) >= 400) {
        assert.deepEqual(
          (response as { content: { "application/json": { schema: unknown } } })
            .content["application/json"].schema,
          error,
        );
      }
    }
  }
  assert.ok(spec.components.schemas.Error.properties.error.properties.requestId);
  // Verify's codes come from the key check's catalogue, an organization's suspension included.
  const verified = spec.paths["/keys/verify"].post.responses["200"].description;
  for (const code of ["OWNER_BANNED", "ORG_SUSPENDED", "INSUFFICIENT_SCOPE", "MALFORMED"]) {
    assert.match(verified, new RegExp(code));
  }
  assert.ok(spec.components.schemas.Error.properties.error.properties.code.enum.includes(
    "org_suspended",
  ));
});

Deno.test("request schemas come from the validating zod schemas", async () => {
  const spec = (await call("GET", "/openapi.json")).body;
  const signUp = spec.paths["/auth/sign-up/email"].post;
  const body = signUp.requestBody.content["application/json"].schema;
  assert.deepEqual(body.required.sort(), ["email", "name", "password"]);
  assert.equal(body.additionalProperties, false, "role and tier are refused, and documented so");
  assert.equal(body.properties.password.minLength, 10);
  assert.equal(body.properties.password.maxLength, 256);
  assert.deepEqual(signUp.security, []);

  const listUsers = spec.paths["/admin/users"].get;
  const limit = listUsers.parameters.find((p: { name: string }) => p.name === "limit");
  assert.equal(limit.schema.maximum, 200);
  assert.equal(limit.schema.default, 50);
  assert.deepEqual(listUsers.security, [{ session: [] }, { apiKey: [] }, { adminKey: [] }]);

  const revoke = spec.paths["/admin/keys/{id}/revoke"].post;
  assert.equal(revoke.parameters[0].in, "path");
  assert.equal(revoke.parameters[0].schema.format, "uuid");
  // Roles and permissions are named, not numbered.
  const role = spec.paths["/admin/roles/{name}"].patch;
  assert.equal(role.parameters[0].name, "name");
  assert.equal(role.parameters[0].schema.format, undefined);
});

Deno.test("POST /auth/token documents two request bodies by media type, OAuth's with its own credential", async () => {
  const spec = (await call("GET", "/openapi.json")).body;
  const token = spec.paths["/auth/token"].post;
  assert.equal(token.requestBody.required, false);
  assert.deepEqual(Object.keys(token.requestBody.content), [
    "application/json",
    "application/x-www-form-urlencoded",
  ]);
  const form = token.requestBody.content["application/x-www-form-urlencoded"].schema;
  assert.deepEqual(form.properties.grant_type.enum, ["client_credentials"]);
  assert.deepEqual(form.required, ["grant_type"]);
  assert.deepEqual(Object.keys(form.properties).sort(), [
    "client_id",
    "client_secret",
    "grant_type",
    "scope",
  ]);
  assert.deepEqual(token.security, [{ session: [] }, { apiKey: [] }, { clientSecretBasic: [] }]);
  assert.match(token.responses["401"].description, /invalid_client/);
  assert.match(token.responses["400"].description, /invalid_scope/);
  assert.match(token.responses["429"].description, /too_many_requests/);
  assert.deepEqual(spec.components.schemas.OAuthError.required, [
    "error",
    "error_description",
    "request_id",
  ]);
  // The envelope's codes are the envelope's: OAuth's own are answered only in OAuth's shape.
  assert.ok(
    !spec.components.schemas.Error.properties.error.properties.code.enum
      .includes("invalid_client"),
  );
});

Deno.test("each function serves its own openapi.json, no credential needed", async () => {
  for (const name of Object.keys(functions)) {
    const result = await call("GET", `/${name}/openapi.json`);
    assert.equal(result.status, 200, name);
    assert.deepEqual(
      Object.keys(result.body.paths).every((path) => path.startsWith(`/${name}`)),
      true,
    );
  }
});

Deno.test("every operation that honours Idempotency-Key documents the header, its 400 and 409", async () => {
  const spec = (await call("GET", "/openapi.json")).body;
  const documented: string[] = [];
  for (const [path, operations] of Object.entries(spec.paths as Record<string, object>)) {
    for (const [method, operation] of Object.entries(operations)) {
      const header = operation.parameters.find((parameter: { name: string }) =>
        parameter.name === "Idempotency-Key"
      );
      if (!header) continue;
      documented.push(`${method.toUpperCase()} ${path}`);
      assert.equal(header.in, "header");
      assert.ok(operation.responses["400"] && operation.responses["409"], `${method} ${path}`);
    }
  }
  // The routes that call respondIdempotently; one that did without declaring it answers 500
  // (idempotency.ts), which every test of the route would see.
  assert.deepEqual(documented.sort(), [
    "POST /admin/keys",
    "POST /admin/keys/{id}/revoke",
    "POST /admin/keys/{id}/rotate",
    "POST /admin/org-roles",
    "POST /admin/permissions",
    "POST /admin/roles",
    "POST /admin/users",
    "POST /admin/users/{id}/password",
    "POST /admin/webhooks",
    "POST /admin/webhooks/deliveries/{id}/retry",
    "POST /admin/webhooks/{id}/rotate-secret",
    "POST /admin/webhooks/{id}/test",
    "POST /keys",
    "POST /keys/{id}/rotate",
    "POST /orgs",
    "POST /orgs/{id}/keys",
    "POST /orgs/{id}/keys/{keyId}/rotate",
  ]);
});

// The answers the typed client (packages/with-latchkey) types: each route that declares one is
// called here, and what it really answers must be what it declares, no field more or less.
Deno.test("a declared answer is what the route answers, field for field", async () => {
  const account = await signUp("declared-answers");
  const { key } = await createKey(account.token, { name: "answers" });
  const session = { authorization: `Bearer ${account.token}` };
  const answers: Record<string, () => Promise<unknown[]>> = {
    "POST /keys/verify": async () => [(await verifyKey(key)).body],
    "POST /keys/cached-uses": async () => [
      (await latchkey.POST("/keys/cached-uses", {
        body: { uses: [{ key, count: 1, lastUsedAt: new Date().toISOString() }] },
      })).data,
    ],
    "POST /auth/token":
      async () => [(await mintToken(session)).data, (await mintToken({ "x-api-key": key })).data],
    "GET /auth/session": async () => [
      (await latchkey.GET("/auth/session", { headers: session })).data,
      (await latchkey.GET("/auth/session", { headers: { "x-api-key": key } })).data,
    ],
  };
  const declared = functionDefinitions.flatMap(({ name, routes }) =>
    routes.filter(({ doc }) => doc.answer).map(({ doc }) => ({
      route: `${doc.method.toUpperCase()} /${name}${doc.path === "/" ? "" : doc.path}`,
      answer: doc.answer as z.ZodObject,
    }))
  );
  assert.deepEqual(declared.map(({ route }) => route).sort(), Object.keys(answers).sort());
  for (const { route, answer } of declared) {
    for (const body of await answers[route]()) {
      const parsed = answer.safeParse(body);
      assert.ok(parsed.success, `${route}: ${JSON.stringify(parsed.error?.issues)}`);
      const undeclared = Object.keys(body as object).filter((field) => !(field in answer.shape));
      assert.deepEqual(undeclared, [], `${route} answers fields its declaration lacks`);
    }
  }
});
