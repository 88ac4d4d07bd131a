import { z } from "zod";
import { errorCatalog, oauthErrorCodes } from "../ground/errors.ts";
import type { AdminPermission } from "../ground/principal.ts";
import { latchkeyVersion } from "../ground/version.ts";

/**
 * OpenAPI 3.1 from the zod schemas that validate requests: a route's body and query schemas
 * are the very objects its handler parses with, turned into JSON Schema by zod. A test checks
 * that every route a function serves is documented, and nothing else.
 */

/** Where the functions live, locally and on Supabase (`https://<ref>.supabase.co/functions/v1`). */
export const functionsBasePath = "/functions/v1";

export type Credential = "session" | "apiKey" | "adminKey" | "challenge";

/**
 * What a route's `auth` list means, decided here once for the check (api/routes.ts) and the
 * document: nothing; an interactive session only; a session or an API key; on admin routes,
 * the X-Admin-Key as well; on the routes that complete a sign-in's second factor, a session or
 * the sign-in's challenge, or the challenge alone. Nowhere else is a challenge taken.
 */
export type CredentialCheck =
  | "none"
  | "sessionOnly"
  | "sessionOrKey"
  | "adminKey"
  | "sessionOrChallenge"
  | "challengeOnly";

export function credentialCheckOf(auth: Credential[]): CredentialCheck {
  if (auth.length === 0) return "none";
  if (auth.includes("challenge")) {
    if (auth.includes("apiKey") || auth.includes("adminKey")) {
      throw new Error("a challenge is taken only beside a session");
    }
    return auth.includes("session") ? "sessionOrChallenge" : "challengeOnly";
  }
  if (auth.includes("adminKey")) return "adminKey";
  return auth.includes("apiKey") ? "sessionOrKey" : "sessionOnly";
}

export interface RouteDoc {
  method: "get" | "post" | "patch" | "delete";
  /** Hono style, relative to the function: `/users/:id`. */
  path: string;
  summary: string;
  /**
   * Accepted credentials, enforced from this list (api/routes.ts): empty means none is needed;
   * `session` alone refuses API keys; `adminKey` also takes sessions and keys.
   */
  auth: Credential[];
  /** Enforced too: a principal without it gets 403. */
  permission?: AdminPermission;
  /**
   * Open to a session that awaits the second factor its role requires
   * (LATCHKEY_MFA_REQUIRED_ROLES, aal1): the routes that lead to a factor (the session itself,
   * sign-out, listing, enrolling and verifying factors). On every other route with a credential
   * such a session gets 403 `mfa_required` (api/routes.ts); this flag is the one list of them.
   */
  beforeRequiredFactor?: true;
  /**
   * May queue notification mail to the account holder (LATCHKEY_NOTIFY; queued in SQL with the
   * change's audit event): after a 2xx answer the mail outbox is sent at once, not at the next
   * sweep.
   */
  notifies?: true;
  /** Latchkey's own account routes: 404 when Supabase Auth owns identity (LATCHKEY_IDENTITY). */
  ownIdentityOnly?: boolean;
  /**
   * Honours `Idempotency-Key` (documented as a header parameter with its 400 and 409); a route
   * that reads the header without saying so fails (idempotency.ts).
   */
  idempotent?: true;
  /**
   * A dangerous action (issue 28, step-up): a session must have verified a second factor in
   * the last LATCHKEY_STEP_UP_MINUTES, else 403 `step_up_required`; API keys and the X-Admin-Key
   * are not asked. `true`: every call, checked before the body is read. A condition: only the
   * calls it names, checked on the parsed body by `applies` (api/routes.ts) or, where it depends
   * on stored state (a key's scopes, a factor's confirmation), by the handler or the database.
   */
  stepUp?: true | StepUpCondition;
  /** What the handler checks beyond `permission`, in words. */
  permissionNote?: string;
  body?: z.ZodType;
  query?: z.ZodType;
  /**
   * The JSON body of the success answer to the route's own call (the lowest 2xx status in
   * `responses`), for generated clients (packages/with-latchkey types its calls from it); without
   * it, any object. Nothing checks answers against it at run time: tests/http/openapi_test.ts
   * parses real answers with it. A route that also takes OAuth's token request answers that one
   * OAuth's way (`oauthTokenAnswerSchema`), and the document shows both.
   */
  answer?: z.ZodType;
  /**
   * OAuth 2.0's token request on this route beside its own call (RFC 6749 §4.4): a (non-empty)
   * body of `application/x-www-form-urlencoded` goes to the route's token-request handler instead
   * (api/routes.ts), before the `auth` list's credential check, for the client authenticates in
   * the request itself (HTTP Basic, or client_id and client_secret in the body). Its errors are
   * OAuth's `{error, error_description}` (http/oauth_form.ts), its parameters read by OAuth's
   * rules. The document shows both request bodies, by media type.
   */
  oauthTokenRequest?: OAuthTokenRequestDoc;
  /**
   * Status → what it means; errors get the envelope. The answers every such route gives
   * (400 for a bad body or query, 415 for a body that is not JSON, 401 without a credential, 403
   * for a missing permission or an API key on a session-only route) are added unless the route
   * describes them itself.
   */
  responses: Record<number, string>;
}

export interface OAuthTokenRequestDoc {
  /** The `grant_type`s it takes; another is `unsupported_grant_type`, none `invalid_request`. */
  grantTypes: readonly string[];
  /** Its parameters besides `grant_type`'s check; names it does not declare are ignored. */
  body: z.ZodObject;
  /** Status → what it means for the token request (merged with the route's own). */
  responses: Record<number, string>;
}

/** When only some calls of a route are dangerous. */
export interface StepUpCondition {
  /** The calls that need the step-up, in words ("the body changes `role`"). */
  when: string;
  /**
   * Decides it from the parsed body and the caller's permissions (what the caller could not get
   * anyway is refused for that, not for a missing step-up); without it, the handler or the
   * database.
   */
  applies?: (body: unknown, permissions: readonly string[]) => boolean;
  /** A body it applies to (the document's example, and what the credential matrix sends). */
  example?: Record<string, unknown>;
}

/** A step-up condition on a route's parsed body, typed by the body's schema. */
export function stepUpWhen<S extends z.ZodType>(
  _body: S,
  when: string,
  applies: (body: z.output<S>, permissions: readonly string[]) => boolean,
  example: z.input<S> & Record<string, unknown>,
): StepUpCondition {
  return {
    when,
    applies: applies as (body: unknown, permissions: readonly string[]) => boolean,
    example,
  };
}

/** The step-up a route declares, in words for its description and its 403. */
function stepUpNote(doc: RouteDoc): string | undefined {
  if (!doc.stepUp) return undefined;
  const calls = doc.stepUp === true ? "Every call" : `A call where ${doc.stepUp.when}`;
  return `${calls} by a session needs a second factor verified in the last ` +
    "LATCHKEY_STEP_UP_MINUTES (step-up: POST /auth/factors/:id/verify); API keys and " +
    "X-Admin-Key are not asked";
}

/**
 * Whether a session awaiting its role's second factor is refused this route: any route that
 * takes a session, unless it declares `beforeRequiredFactor`.
 */
export function gatedBySecondFactor(doc: RouteDoc): boolean {
  return doc.auth.includes("session") && !doc.beforeRequiredFactor;
}

const mfaRequiredDescription = "`mfa_required`: the session's role needs a second factor " +
  "(LATCHKEY_MFA_REQUIRED_ROLES) and it has not verified one; `nextRoute` names the route to " +
  "call (enrolment, or a factor's verification).";

/** `code`: the message clients get, from the error catalog. */
function errorDescription(code: keyof typeof errorCatalog, extra = ""): string {
  return `\`${code}\`: ${errorCatalog[code].message}${extra}`;
}

/** The answers a route gives by its declaration alone, before its own. */
function standardResponses(doc: RouteDoc): Record<number, string> {
  const responses: Record<number, string> = {};
  if (doc.body || doc.query) {
    responses[400] = errorDescription("validation_failed", " `details` lists each failing field.");
  }
  if (doc.body) responses[415] = errorDescription("unsupported_media_type");
  if (doc.idempotent) {
    responses[400] = errorDescription(
      "validation_failed",
      " `details` lists each failing field, `Idempotency-Key` included (1 to 255 characters).",
    );
    responses[409] = errorDescription("idempotency_key_reused");
  }
  if (doc.ownIdentityOnly) {
    responses[404] = "`not_found`: with LATCHKEY_IDENTITY=supabase, Supabase Auth owns this.";
  }
  const check = credentialCheckOf(doc.auth);
  if (check !== "none") {
    responses[401] = errorDescription(
      "unauthorized",
      check === "adminKey"
        ? " A wrong X-Admin-Key is refused the same way."
        : check === "challengeOnly"
        ? " Only the challenge sign-in answered is taken here; sessions and keys are refused."
        : "",
    );
  }
  if (check === "adminKey") {
    responses[429] = errorDescription(
      "too_many_requests",
      " After too many wrong X-Admin-Key guesses from one client (`Retry-After` says when).",
    );
  }
  if (doc.permission) {
    responses[403] = errorDescription("forbidden", ` It needs \`${doc.permission}\`.`);
  } else if (check === "sessionOnly" || check === "sessionOrChallenge") {
    responses[403] = errorDescription("interactive_session_required");
  }
  return responses;
}

const securitySchemes = {
  session: {
    type: "http",
    scheme: "bearer",
    description: "A session token (`lks_…`) from sign-up or sign-in, or the " +
      "`latchkey.session_token` cookie.",
  },
  apiKey: {
    type: "apiKey",
    in: "header",
    name: "x-api-key",
    description: "An API key (`lk_…`); `Authorization: Bearer <key>` works too.",
  },
  clientSecretBasic: {
    type: "http",
    scheme: "basic",
    description: "OAuth 2.0 client authentication (client_secret_basic), only with the form " +
      "body of POST /auth/token (grant_type=client_credentials): the user name is an API key's " +
      "id, the password the key itself, each form-urlencoded first (RFC 6749 §2.3.1). Or send " +
      "them as client_id and client_secret in the form body (client_secret_post), not both.",
  },
  challenge: {
    type: "http",
    scheme: "bearer",
    description: "The challenge token (`lks_…`, minutes long) that sign-in answers for an " +
      "account with a second factor; taken only by the routes that complete the sign-in.",
  },
  adminKey: {
    type: "apiKey",
    in: "header",
    name: "X-Admin-Key",
    description: "The static admin key from LATCHKEY_ADMIN_KEY(_SHA256); admin routes only.",
  },
} as const;

const errorEnvelopeSchema = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message", "requestId"],
      properties: {
        code: {
          type: "string",
          enum: Object.keys(errorCatalog).filter((code) =>
            !oauthErrorCodes.has(code as keyof typeof errorCatalog)
          ),
        },
        message: { type: "string" },
        details: {
          type: "array",
          items: {
            type: "object",
            required: ["path", "message"],
            properties: { path: { type: "string" }, message: { type: "string" } },
          },
        },
        nextRoute: {
          type: "string",
          description: "With `mfa_required`: the route to call first, as `POST " +
            "/auth/factors/totp` (enrolment) or `POST /auth/factors/:id/verify`.",
        },
        requestId: { type: "string" },
      },
    },
  },
};

const oauthErrorSchema = {
  type: "object",
  description: "An error of OAuth's token request (RFC 6749 §5.2), answered only to the form body.",
  required: ["error", "error_description", "request_id"],
  properties: {
    error: {
      type: "string",
      description: "The RFC's code for its cases (`invalid_request`, `invalid_client`, " +
        "`unauthorized_client`, `unsupported_grant_type`, `invalid_scope`); for the rest the " +
        "envelope's code with the same status (`too_many_requests`, `rate_limited`, " +
        "`usage_exceeded`, `not_configured`, `database_unavailable`).",
    },
    error_description: { type: "string" },
    request_id: { type: "string" },
  },
};

/** OAuth's successful token answer (RFC 6749 §5.1), to the form body only. */
const oauthTokenAnswerSchema = {
  type: "object",
  required: ["access_token", "token_type", "expires_in", "scope"],
  properties: {
    access_token: { type: "string" },
    token_type: { type: "string", const: "Bearer" },
    expires_in: { type: "integer" },
    scope: { type: "string" },
  },
};

/** A request schema as what the client may send, an answer's as what the server sends. */
function jsonSchema(schema: z.ZodType, io: "input" | "output" = "input") {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" });
  return rest;
}

const idempotencyKeyParameter = {
  name: "Idempotency-Key",
  in: "header",
  required: false,
  description: "A retry with the same key and request replays the first answer " +
    "(`Idempotency-Replayed: true`) instead of acting twice.",
  schema: { type: "string", minLength: 1, maxLength: 255 },
};

function operation(name: string, doc: RouteDoc) {
  // Rows are named by uuids; roles and permissions by their names (`:name`).
  const pathParameters = [...doc.path.matchAll(/:(\w+)/g)].map(([, param]) => ({
    name: param,
    in: "path",
    required: true,
    schema: param === "name"
      ? { type: "string", minLength: 1, maxLength: 65, examples: ["billing"] }
      : { type: "string", format: "uuid" },
  }));
  const query = doc.query ? jsonSchema(doc.query) as { properties?: Record<string, unknown> } : {};
  const queryParameters = Object.entries(query.properties ?? {}).map(([param, schema]) => ({
    name: param,
    in: "query",
    required: false,
    schema,
  }));
  const described: Record<number, string> = { ...standardResponses(doc), ...doc.responses };
  if (gatedBySecondFactor(doc)) {
    described[403] = [described[403], mfaRequiredDescription].filter(Boolean).join(" ");
  }
  const stepUp = stepUpNote(doc);
  // Beside whatever else the route answers 403 for, its own description included.
  if (stepUp) {
    described[403] = `${described[403] ? `${described[403]} ` : ""}\`step_up_required\`: ${
      stepUp.replace(/^./, (first) => first.toLowerCase())
    }.`;
  }
  const tokenRequest = doc.oauthTokenRequest;
  for (const [status, description] of Object.entries(tokenRequest?.responses ?? {})) {
    const form = `Token request (form body): ${description}`;
    described[Number(status)] = described[Number(status)]
      ? `${described[Number(status)]} ${form}`
      : form;
  }
  const errorSchema = tokenRequest
    ? {
      oneOf: [
        { $ref: "#/components/schemas/Error" },
        { $ref: "#/components/schemas/OAuthError" },
      ],
    }
    : { $ref: "#/components/schemas/Error" };
  const statuses = Object.keys(described).map(Number).sort((a, b) => a - b);
  const success = statuses.find((status) => status >= 200 && status < 300);
  const ownAnswer = doc.answer ? jsonSchema(doc.answer, "output") : { type: "object" };
  const answer = tokenRequest ? { oneOf: [ownAnswer, oauthTokenAnswerSchema] } : ownAnswer;
  const responses = Object.fromEntries(statuses.map((status) => [
    status,
    {
      description: described[status],
      content: {
        "application/json": {
          schema: status >= 400 ? errorSchema : status === success ? answer : { type: "object" },
        },
      },
    },
  ]));
  return {
    tags: [name],
    summary: doc.summary,
    ...(doc.permission || stepUp
      ? {
        description: [
          ...(doc.permission
            ? [
              `Needs the \`${doc.permission}\` permission${
                doc.permissionNote ? ` (${doc.permissionNote})` : ""
              }.`,
            ]
            : []),
          ...(stepUp ? [`Step-up: ${stepUp.replace(/^./, (c) => c.toLowerCase())}.`] : []),
        ].join(" "),
      }
      : {}),
    // For generated clients and consoles: which calls may answer step_up_required.
    ...(doc.stepUp
      ? { "x-latchkey-step-up": doc.stepUp === true ? "always" : doc.stepUp.when }
      : {}),
    security: [
      ...doc.auth.map((scheme) => ({ [scheme]: [] })),
      ...(tokenRequest ? [{ clientSecretBasic: [] }] : []),
    ],
    parameters: [
      ...pathParameters,
      ...queryParameters,
      ...(doc.idempotent ? [idempotencyKeyParameter] : []),
    ],
    ...(requestBody(doc) ?? {}),
    responses,
  };
}

/**
 * The request body: the route's JSON schema; beside OAuth's token request, two by media type,
 * neither required (the route's own call needs no body then).
 */
function requestBody(doc: RouteDoc) {
  if (doc.oauthTokenRequest) {
    const { grantTypes, body } = doc.oauthTokenRequest;
    const form = jsonSchema(body) as { properties?: Record<string, unknown>; required?: string[] };
    return {
      requestBody: {
        required: false,
        content: {
          "application/json": {
            schema: doc.body ? jsonSchema(doc.body) : {
              type: "object",
              description: "None needed: the session or API key is the credential, sent as " +
                "on every route.",
            },
          },
          "application/x-www-form-urlencoded": {
            schema: {
              ...form,
              properties: {
                grant_type: { type: "string", enum: [...grantTypes] },
                ...form.properties,
              },
              required: ["grant_type", ...(form.required ?? [])],
            },
          },
        },
      },
    };
  }
  if (!doc.body) return undefined;
  return {
    requestBody: {
      required: true,
      content: { "application/json": { schema: jsonSchema(doc.body) } },
    },
  };
}

/** The OpenAPI document of one or more functions, under `serverUrl`. */
/** One edge function as the document shows it: a tag with its routes. */
export interface FunctionDoc {
  name: string;
  description: string;
  routes: RouteDoc[];
}

export function openApiDocument(functions: FunctionDoc[], serverUrl: string = functionsBasePath) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const { name, routes } of functions) {
    for (const doc of routes) {
      const path = `/${name}${doc.path === "/" ? "" : doc.path}`.replace(/:(\w+)/g, "{$1}");
      paths[path] ??= {};
      paths[path][doc.method] = operation(name, doc);
    }
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Latchkey",
      version: latchkeyVersion,
      description: "Accounts, sessions, API keys and admin access for a Supabase backend. " +
        "Every error is `{error: {code, message, details?, requestId}}`; any route may also " +
        "answer 413 for a body over the limit and 503 (with Retry-After) while the database is " +
        "unreachable.",
    },
    servers: [{ url: serverUrl }],
    tags: functions.map(({ name, description }) => ({ name, description })),
    paths,
    components: {
      securitySchemes,
      schemas: { Error: errorEnvelopeSchema, OAuthError: oauthErrorSchema },
    },
  };
}
