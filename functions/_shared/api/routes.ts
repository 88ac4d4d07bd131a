import type { Handler, Hono, MiddlewareHandler } from "hono";
import { createMiddleware } from "hono/factory";
import type { z } from "zod";
import {
  authenticate,
  requireChallenge,
  requireCredential,
  requirePermission,
  requireSession,
  requireSessionOrChallenge,
} from "../identity/authenticate.ts";
import { requireSteppedUp, requireStepUp } from "../identity/step_up.ts";
import { refuseAwaitingSecondFactor } from "../identity/required_factor.ts";
import { ApiError } from "../ground/errors.ts";
import { type AppContext, type AppEnv } from "../http/context.ts";
import { createFunctionApp, type FunctionAppWiring } from "../http/function_app.ts";
import { readJsonBody, readQuery } from "../http/request.ts";
import { isTokenRequest, readTokenRequest } from "../http/oauth_form.ts";
import {
  type CredentialCheck,
  credentialCheckOf,
  gatedBySecondFactor,
  openApiDocument,
  type RouteDoc,
} from "../http/openapi.ts";
import { ensureFirstAdmin } from "../accounts/first_admin.ts";
import { pruneAuditInBackground } from "../audit/audit_retention.ts";
import { pruneChallengesInBackground } from "../identity/challenge_pruning.ts";
import { deliverMailInBackground, sendNotificationsSoon } from "../mail/outbox.ts";
import { deliverWebhooksInBackground } from "../webhooks/webhook_outbox.ts";
import { pruneWebhookDeliveriesInBackground } from "../webhooks/webhook_backlog.ts";
import { getRuntime } from "./isolate.ts";

/**
 * A route is declared once: its OpenAPI description and its handler. The method, the path, the
 * credential check, the permission check and the validation of the body and query are all
 * derived from the description, so the document cannot promise what the server does not
 * enforce, nor miss a route it serves, nor describe a schema other than the one that validates.
 */
export interface Route {
  doc: RouteDoc;
  handler: Handler<AppEnv>;
  /**
   * OAuth's token request (`doc.oauthTokenRequest`): answers a form body, before the credential
   * checks; anything else goes on to them and `handler`.
   */
  tokenRequestHandler?: MiddlewareHandler<AppEnv>;
}

/** What the handler gets: the body and query, parsed by the declared schemas. */
export interface RouteInput<D extends RouteDoc> {
  body: D["body"] extends z.ZodType ? z.output<D["body"]> : undefined;
  query: D["query"] extends z.ZodType ? z.output<D["query"]> : undefined;
}

/** The token request's parameters, parsed by its declared schema. */
export type TokenRequestOf<D extends RouteDoc> = D["oauthTokenRequest"] extends
  { body: infer S extends z.ZodObject } ? z.output<S> : never;

export function defineRoute<const D extends RouteDoc>(
  doc: D,
  handler: (c: AppContext, input: RouteInput<D>) => Response | Promise<Response>,
  tokenRequest?: (c: AppContext, form: TokenRequestOf<D>) => Response | Promise<Response>,
): Route {
  const declared = doc.oauthTokenRequest;
  if (!declared !== !tokenRequest) {
    throw new Error(`${doc.path}: oauthTokenRequest and its handler go together`);
  }
  return {
    doc,
    ...(declared && tokenRequest
      ? {
        tokenRequestHandler: async (c, next) => {
          if (!await isTokenRequest(c)) return await next();
          // From here on, whatever is thrown answers in OAuth's shape (function_app.ts).
          c.set("oauthErrors", true);
          const form = await readTokenRequest(c, declared.grantTypes, declared.body);
          return await tokenRequest(c, form as TokenRequestOf<D>);
        },
      }
      : {}),
    handler: async (c) => {
      c.set("idempotent", doc.idempotent === true);
      // After the credential checks (registered before this), so a stranger learns nothing
      // about the body a route expects from its validation errors.
      const input = {
        body: doc.body ? await readJsonBody(c, doc.body) : undefined,
        query: doc.query ? readQuery(c, doc.query) : undefined,
      } as RouteInput<D>;
      // A step-up that depends on what the body asks for, before any work is done.
      if (
        typeof doc.stepUp === "object" &&
        doc.stepUp.applies?.(input.body, c.get("principal").permissions)
      ) {
        requireSteppedUp(c);
      }
      const response = await handler(c, input);
      if (doc.notifies && response.status < 300) sendNotificationsSoon(c.get("runtime"));
      return response;
    },
  };
}

const credentialMiddleware: Record<CredentialCheck, MiddlewareHandler<AppEnv>[]> = {
  none: [],
  sessionOnly: [requireSession],
  sessionOrKey: [requireCredential],
  adminKey: [authenticate({ adminKey: true })],
  sessionOrChallenge: [requireSessionOrChallenge],
  challengeOnly: [requireChallenge],
};

/** Before anything else, so nobody is asked for a credential to a route that is not there. */
const ownIdentityOnly = createMiddleware<AppEnv>(async (c, next) => {
  if (c.get("runtime").config.LATCHKEY_IDENTITY === "supabase") {
    throw new ApiError("not_found", {
      message: "Supabase Auth owns sign-up, sign-in, sign-out and passwords on this project " +
        "(LATCHKEY_IDENTITY=supabase): use supabase.auth, and send its access token here.",
    });
  }
  await next();
});

/**
 * The credential check the route's `auth` list means; then, unless the route leads to a second
 * factor (`beforeRequiredFactor`), the refusal of a session that awaits its role's one; then the
 * route's permission, if it names one; then the step-up, if every call of it needs one.
 */
function credentialChecks(doc: RouteDoc): MiddlewareHandler<AppEnv>[] {
  const checks = [
    ...(doc.ownIdentityOnly ? [ownIdentityOnly] : []),
    ...credentialMiddleware[credentialCheckOf(doc.auth)],
    ...(gatedBySecondFactor(doc) ? [refuseAwaitingSecondFactor] : []),
  ];
  return [
    ...checks,
    ...(doc.permission ? [requirePermission(doc.permission)] : []),
    // After the permission: a caller who may not act at all is told that, not to step up.
    ...(doc.stepUp === true ? [requireStepUp] : []),
  ];
}

/** An edge function: its name (and URL segment), what it is for, and its routes in order. */
export interface FunctionDefinition {
  name: string;
  description: string;
  routes: Route[];
}

/**
 * The OpenAPI document of these functions, built on first use: building it converts every
 * schema, cold-start time that nobody who never asks for it should pay.
 */
export function lazyDocument(functions: FunctionDefinition[], serverUrl?: string) {
  let document: ReturnType<typeof openApiDocument> | undefined;
  return () =>
    document ??= openApiDocument(
      functions.map(({ name, description, routes }) => ({
        name,
        description,
        routes: routes.map((route) => route.doc),
      })),
      serverUrl,
    );
}

/**
 * What every function's shell runs around its requests: before the first route of an isolate,
 * the configured first admin is made sure of; after each answer, audit events and webhook
 * deliveries past their retention and expired sign-in and passkey challenges are pruned, due
 * mail is sent (each at most every few minutes) and due webhook messages are sent (right after
 * the answer), all in the background.
 */
const wiring: FunctionAppWiring = {
  runtime: getRuntime,
  beforeRoute: [ensureFirstAdmin],
  afterResponse: [
    pruneAuditInBackground,
    pruneChallengesInBackground,
    pruneWebhookDeliveriesInBackground,
    deliverMailInBackground,
    deliverWebhooksInBackground,
  ],
};

/**
 * A function's app: the shared middleware, `/<name>/openapi.json` (no credential), then each
 * route in the given order (a literal path such as `/verify` must precede `/:id`).
 */
export function functionApp(definition: FunctionDefinition): Hono<AppEnv> {
  const app = createFunctionApp(definition.name, wiring);
  const document = lazyDocument([definition]);
  app.get("/openapi.json", (c) => c.json(document()));
  for (const { doc, handler, tokenRequestHandler } of definition.routes) {
    // One registration per handler, in order: what `app.get(path, a, b)` does itself.
    const steps = [...(tokenRequestHandler ? [tokenRequestHandler] : []), ...credentialChecks(doc)];
    for (const step of [...steps, handler]) {
      app.on(doc.method.toUpperCase(), doc.path, step);
    }
  }
  return app;
}
