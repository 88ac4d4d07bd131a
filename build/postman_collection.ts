import { apiDocument } from "../functions/_local/deployed_functions.ts";
import { taskArgs } from "../functions/_local/task_args.ts";

/**
 * `deno task postman`: the shipped Postman collection's "API reference" folder, generated from
 * the OpenAPI document: one request per operation, grouped by function, with the credential the
 * operation takes, its query parameters (disabled until wanted), an example body built from the
 * schema's examples, and a test that the answer is a documented status. `-- --check` exits 1
 * when the shipped file is out of date; a test does the same, so spec and collection cannot drift.
 * The hand-written "Life cycle" folder, which newman runs in `deno task test`, is left alone.
 */

export const collectionUrl = new URL(
  "../tests/postman/latchkey.postman_collection.json",
  import.meta.url,
);
export const referenceFolderName = "API reference (generated)";
export const lifeCycleFolderName = "Life cycle";

type JsonSchema = {
  type?: string | string[];
  format?: string;
  examples?: unknown[];
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minimum?: number;
  description?: string;
};

interface Parameter {
  name: string;
  in: "path" | "query" | "header";
  description?: string;
  schema: JsonSchema;
}

interface Operation {
  tags: string[];
  summary: string;
  description?: string;
  security: Record<string, string[]>[];
  parameters: Parameter[];
  requestBody?: {
    content: {
      "application/json": { schema: JsonSchema };
      "application/x-www-form-urlencoded"?: { schema: JsonSchema };
    };
  };
  responses: Record<string, { description: string }>;
}

/** An example value for a schema: its own example, default or first choice, else a plain one. */
export function exampleOf(schema: JsonSchema): unknown {
  if (schema.examples?.length) return schema.examples[0];
  if (schema.default !== undefined) return schema.default;
  if (schema.const !== undefined) return schema.const;
  if (schema.enum?.length) return schema.enum[0];
  const alternative = schema.anyOf?.[0] ?? schema.oneOf?.[0];
  if (alternative) return exampleOf(alternative);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "object":
      // Required properties, and the optional ones the schema gives an example for.
      return Object.fromEntries(
        Object.entries(schema.properties ?? {})
          .filter(([name, property]) =>
            schema.required?.includes(name) || property.examples?.length
          )
          .map(([name, property]) => [name, exampleOf(property)]),
      );
    case "array":
      return schema.items?.examples?.length ? [exampleOf(schema.items)] : [];
    case "integer":
    case "number":
      return schema.minimum ?? 0;
    case "boolean":
      return false;
    case "string":
      if (schema.format === "uuid") return "00000000-0000-4000-8000-000000000000";
      if (schema.format === "date-time") return "2030-01-01T00:00:00Z";
      return "";
    default:
      return null;
  }
}

// Which collection variable each security scheme reads: `adminToken` is what the life cycle's
// "Sign in as the bootstrap admin" sets; `adminKey` comes from the environment.
function headerKeyAuth(header: string, variable: string) {
  return {
    type: "apikey",
    apikey: [
      { key: "key", value: header, type: "string" },
      { key: "value", value: `{{${variable}}}`, type: "string" },
      { key: "in", value: "header", type: "string" },
    ],
  };
}

const credentialAuth: Record<string, unknown> = {
  session: { type: "bearer", bearer: [{ key: "token", value: "{{adminToken}}", type: "string" }] },
  apiKey: headerKeyAuth("x-api-key", "apiKey"),
  adminKey: headerKeyAuth("X-Admin-Key", "adminKey"),
  challenge: {
    type: "bearer",
    bearer: [{ key: "token", value: "{{challengeToken}}", type: "string" }],
  },
  // OAuth's client credentials: the key's id and the key that the life cycle made.
  clientSecretBasic: {
    type: "basic",
    basic: [
      { key: "username", value: "{{apiKeyId}}", type: "string" },
      { key: "password", value: "{{apiKey}}", type: "string" },
    ],
  },
};

const schemeNames: Record<string, string> = {
  session: "a session token (Bearer)",
  apiKey: "an API key (x-api-key)",
  adminKey: "the X-Admin-Key",
  challenge: "the challenge token sign-in answers an account with a second factor (Bearer)",
  clientSecretBasic: "with the form body, OAuth client authentication: an API key's id and the " +
    "key (HTTP Basic, or client_id and client_secret in the body)",
};

/** What each generated request tests: a documented status, and an error in its shape. */
function statusTests(statuses: number[], errorShape: "envelope" | "oauth") {
  return [{
    listen: "test",
    script: {
      type: "text/javascript",
      exec: [
        `pm.test("answers a documented status", () => pm.expect(${
          JSON.stringify(statuses)
        }).to.include(pm.response.code));`,
        ...(errorShape === "oauth"
          ? [
            // The body limit's 413 answers before any route, in the envelope.
            "if (pm.response.code >= 400 && pm.response.code !== 413) {",
            '  pm.test("errors are OAuth\'s {error, error_description}", () => {',
            "    const body = pm.response.json();",
            '    pm.expect(body.error).to.be.a("string");',
            '    pm.expect(body.error_description).to.be.a("string");',
            '    pm.expect(body.request_id).to.be.a("string");',
            "  });",
            "}",
          ]
          : [
            "if (pm.response.code >= 400) {",
            '  pm.test("errors carry the envelope", () => {',
            "    const error = pm.response.json().error;",
            '    pm.expect(error.code).to.be.a("string");',
            '    pm.expect(error.requestId).to.be.a("string");',
            "  });",
            "}",
          ]),
      ],
    },
  }];
}

/**
 * OAuth's token request on an operation that takes one: the form body (required parameters on,
 * the others there but off) with the key's id and the key by HTTP Basic.
 */
function tokenRequestItem(
  url: Record<string, unknown>,
  operation: Operation,
  form: JsonSchema,
  statuses: number[],
) {
  return {
    name: `${operation.summary}: OAuth client credentials`,
    request: {
      method: "POST",
      header: [{ key: "content-type", value: "application/x-www-form-urlencoded" }],
      url,
      auth: credentialAuth.clientSecretBasic,
      body: {
        mode: "urlencoded",
        urlencoded: Object.entries(form.properties ?? {}).map(([name, property]) => ({
          key: name,
          value: String(exampleOf(property) ?? ""),
          type: "text",
          ...(form.required?.includes(name) ? {} : { disabled: true }),
          ...(property.description ? { description: property.description } : {}),
        })),
      },
      description: [
        "OAuth 2.0's client credentials grant (RFC 6749 §4.4) on this route: the client is an " +
        "API key, its id as the user name and the key as the password (HTTP Basic), or " +
        "client_id and client_secret in the form. Errors are OAuth's {error, error_description}.",
        "",
        ...Object.entries(operation.responses).map(([status, response]) =>
          `- ${status}: ${response.description}`
        ),
      ].join("\n"),
    },
    event: statusTests(statuses, "oauth"),
  };
}

function requestItem(method: string, path: string, operation: Operation) {
  const segments = path.slice(1).split("/").map((segment) => segment.replace(/^\{(\w+)\}$/, ":$1"));
  const pathParameters = operation.parameters.filter((parameter) => parameter.in === "path");
  const query = operation.parameters.filter((parameter) => parameter.in === "query").map((
    parameter,
  ) => ({
    key: parameter.name,
    value: String(exampleOf(parameter.schema) ?? ""),
    disabled: true,
  }));
  const schemes = operation.security.flatMap((requirement) => Object.keys(requirement));
  const statuses = Object.keys(operation.responses).map(Number);
  const description = [
    `${operation.summary}.`,
    ...(operation.description ? [operation.description] : []),
    schemes.length
      ? `Credential: ${schemes.map((scheme) => schemeNames[scheme]).join(", or ")}.`
      : "No credential needed.",
    "",
    ...Object.entries(operation.responses).map(([status, response]) =>
      `- ${status}: ${response.description}`
    ),
  ].join("\n");
  const body = operation.requestBody?.content["application/json"].schema;
  // Offered, disabled: a key is the caller's name for one request, kept for its retries (a
  // fresh {{$guid}} per send would make every retry a new request).
  const headers = operation.parameters.filter((parameter) => parameter.in === "header").map((
    parameter,
  ) => ({
    key: parameter.name,
    value: "change-me-per-request-1",
    description: parameter.description,
    disabled: true,
  }));
  const form = operation.requestBody?.content["application/x-www-form-urlencoded"]?.schema;
  const url = {
    raw: `{{baseUrl}}/${segments.join("/")}`,
    host: ["{{baseUrl}}"],
    path: segments,
    ...(query.length ? { query } : {}),
    ...(pathParameters.length
      ? {
        variable: pathParameters.map((parameter) => ({
          key: parameter.name,
          value: "",
          description: `${parameter.schema.format ?? parameter.schema.type} (required)`,
        })),
      }
      : {}),
  };
  // The route's own call first (its first credential); OAuth's token request, if it takes one.
  const ownSchemes = schemes.filter((scheme) => scheme !== "clientSecretBasic");
  const item = {
    name: operation.summary,
    request: {
      method: method.toUpperCase(),
      header: [...(body ? [{ key: "content-type", value: "application/json" }] : []), ...headers],
      url,
      auth: ownSchemes.length ? credentialAuth[ownSchemes[0]] : { type: "noauth" },
      ...(body
        ? {
          body: {
            mode: "raw",
            raw: JSON.stringify(exampleOf(body), null, 2),
            options: { raw: { language: "json" } },
          },
        }
        : {}),
      description,
    },
    event: statusTests(statuses, "envelope"),
  };
  return form ? [item, tokenRequestItem(url, operation, form, statuses)] : [item];
}

/** The generated folder: a sub-folder per function, a request per operation, in spec order. */
export function referenceFolder(spec = apiDocument()) {
  const paths = spec.paths as Record<string, Record<string, Operation>>;
  const folders = spec.tags.map(({ name, description }) => ({
    name,
    description,
    item: Object.entries(paths).flatMap(([path, operations]) =>
      Object.entries(operations)
        .filter(([, operation]) => operation.tags.includes(name))
        .flatMap(([method, operation]) => requestItem(method, path, operation))
    ),
  }));
  return {
    name: referenceFolderName,
    description: [
      `Generated from the OpenAPI document by \`deno task postman\`; do not edit by hand.`,
      "One request per operation. Bodies are examples: edit them before sending.",
      "Session routes use {{adminToken}} (run the life cycle's sign-in first), key routes",
      "{{apiKey}}, admin routes can also take the environment's {{adminKey}}; the routes that",
      "complete a sign-in's second factor take {{challengeToken}}, the `challenge.token` of a",
      "sign-in to an account with one; OAuth's client credentials request takes {{apiKeyId}}",
      "and {{apiKey}} by HTTP Basic.",
    ].join(" "),
    item: folders,
  };
}

// deno-lint-ignore no-explicit-any
type Collection = { item: any[]; [key: string]: unknown };

/** The collection with its reference folder replaced by (or given) a freshly generated one. */
export function withReferenceFolder(collection: Collection): Collection {
  const others = collection.item.filter((item) => item.name !== referenceFolderName);
  return { ...collection, item: [...others, referenceFolder()] };
}

if (import.meta.main) {
  const shipped = JSON.parse(await Deno.readTextFile(collectionUrl)) as Collection;
  const generated = withReferenceFolder(shipped);
  const upToDate = JSON.stringify(shipped) === JSON.stringify(generated);
  if (taskArgs().includes("--check")) {
    if (!upToDate) {
      console.error(
        "tests/postman/latchkey.postman_collection.json is out of date with the OpenAPI " +
          "document: run `deno task postman`.",
      );
      Deno.exit(1);
    }
    console.log("Postman collection: up to date with the OpenAPI document.");
  } else if (upToDate) {
    console.log("Postman collection: already up to date.");
  } else {
    await Deno.writeTextFile(collectionUrl, `${JSON.stringify(generated, null, 2)}\n`);
    console.log(`Postman collection: "${referenceFolderName}" regenerated.`);
  }
}
