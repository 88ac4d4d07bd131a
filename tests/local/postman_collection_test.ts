import assert from "node:assert/strict";
import { apiDocument as builtDocument } from "../../functions/_local/deployed_functions.ts";
import {
  collectionUrl,
  exampleOf,
  lifeCycleFolderName,
  referenceFolder,
  referenceFolderName,
} from "../../build/postman_collection.ts";

// deno-lint-ignore no-explicit-any
type Item = any;

const apiDocument = builtDocument();
const collection = JSON.parse(await Deno.readTextFile(collectionUrl));

function requests(items: Item[]): Item[] {
  return items.flatMap((item) => item.item ? requests(item.item) : [item]);
}

/** `GET /admin/users/{}`: a request's method and path, path variables and query left out. */
function route(request: Item): string {
  const path = (request.url.path as string[])
    .map((segment) => /^(:\w+|\{\{\w+\}\})$/.test(segment) ? "{}" : segment)
    .join("/");
  return `${request.method} /${path}`;
}

const specifiedRoutes = Object.entries(apiDocument.paths).flatMap(([path, operations]) =>
  Object.keys(operations).map((method) =>
    `${method.toUpperCase()} ${path.replace(/\{\w+\}/g, "{}")}`
  )
).sort();

Deno.test("the collection's API reference folder is the one the OpenAPI document generates", () => {
  const shipped = collection.item.find((item: Item) => item.name === referenceFolderName);
  assert.ok(shipped, `the collection has a "${referenceFolderName}" folder`);
  assert.deepEqual(shipped, referenceFolder(), "out of date: run `deno task postman`");
});

Deno.test("every route in the OpenAPI document appears in the collection", () => {
  const reference = collection.item.find((item: Item) => item.name === referenceFolderName);
  const inReference = requests(reference.item).map((item) => route(item.request)).sort();
  assert.deepEqual([...new Set(inReference)], specifiedRoutes);
  // Once each, and OAuth's token request once more where a route takes one (a form body).
  const tokenRequests = Object.values(apiDocument.paths).flatMap((operations) =>
    Object.values(operations).filter((operation: Item) =>
      operation.requestBody?.content["application/x-www-form-urlencoded"]
    )
  );
  assert.equal(tokenRequests.length, 1, "POST /auth/token");
  assert.equal(inReference.length, specifiedRoutes.length + tokenRequests.length);
});

Deno.test("the life cycle calls only routes the OpenAPI document has", () => {
  const lifeCycle = collection.item.find((item: Item) => item.name === lifeCycleFolderName);
  const called = requests(lifeCycle.item).map((item) => route(item.request));
  assert.ok(called.length >= 10);
  const unknown = called.filter((call) => !specifiedRoutes.includes(call));
  assert.deepEqual(unknown, []);
});

Deno.test("example bodies come from the schema's own examples and satisfy its required fields", () => {
  const signUp = apiDocument.paths["/auth/sign-up/email"].post as Item;
  const schema = signUp.requestBody.content["application/json"].schema;
  assert.deepEqual(exampleOf(schema), {
    name: "Ada Lovelace",
    email: "ada@example.com",
    password: "correct horse battery staple",
  });
  assert.deepEqual(
    exampleOf({
      type: "object",
      required: ["id", "when", "count", "flag", "kind"],
      properties: {
        id: { type: "string", format: "uuid" },
        when: { type: "string", format: "date-time" },
        count: { type: "integer", minimum: 1 },
        flag: { type: "boolean" },
        kind: { type: "string", enum: ["a", "b"] },
        optional: { type: "string" },
        suggested: { type: "string", examples: ["x"] },
      },
    }),
    {
      id: "00000000-0000-4000-8000-000000000000",
      when: "2030-01-01T00:00:00Z",
      count: 1,
      flag: false,
      kind: "a",
      suggested: "x",
    },
  );
});
