import type { Handler, Hono, MiddlewareHandler } from "hono";
import type { z } from "zod";
import {
  authenticate,
  requireCredential,
  requirePermission,
  requireSession,
} from "./authenticate.ts";
import {
  type AppContext,
  type AppEnv,
  createFunctionApp,
  readJsonBody,
  readQuery,
} from "./http.ts";
import { openApiDocument, type RouteDoc } from "./openapi.ts";

/**
 * A route is declared once: its OpenAPI description and its handler. The method, the path, the
 * credential check, the permission check and the validation of the body and query are all
 * derived from the description, so the document cannot promise what the server does not
 * enforce, nor miss a route it serves, nor describe a schema other than the one that validates.
 */
export interface Route {
  doc: RouteDoc;
  handler: Handler<AppEnv>;
}

/** What the handler gets: the body and query, parsed by the declared schemas. */
export interface RouteInput<D extends RouteDoc> {
  body: D["body"] extends z.ZodType ? z.output<D["body"]> : undefined;
  query: D["query"] extends z.ZodType ? z.output<D["query"]> : undefined;
}

export function defineRoute<const D extends RouteDoc>(
  doc: D,
  handler: (c: AppContext, input: RouteInput<D>) => Response | Promise<Response>,
): Route {
  return {
    doc,
    handler: async (c) => {
      // After the credential checks (registered before this), so a stranger learns nothing
      // about the body a route expects from its validation errors.
      const input = {
        body: doc.body ? await readJsonBody(c, doc.body) : undefined,
        query: doc.query ? readQuery(c, doc.query) : undefined,
      } as RouteInput<D>;
      return await handler(c, input);
    },
  };
}

const adminCredential = authenticate({ adminKey: true });

/**
 * What the route's `auth` list accepts: X-Admin-Key (admin routes; sessions and keys too), any
 * session or key, or an interactive session only. Then the permission, if the route names one.
 */
function credentialChecks(doc: RouteDoc): MiddlewareHandler<AppEnv>[] {
  if (doc.auth.length === 0) return [];
  const check = doc.auth.includes("adminKey")
    ? adminCredential
    : doc.auth.includes("apiKey")
    ? requireCredential
    : requireSession;
  return doc.permission ? [check, requirePermission(doc.permission)] : [check];
}

/** An edge function: its name (and URL segment), what it is for, and its routes in order. */
export interface FunctionDefinition {
  name: string;
  description: string;
  routes: Route[];
}

/** The OpenAPI document of these functions. */
export function functionsDocument(functions: FunctionDefinition[], serverUrl?: string) {
  return openApiDocument(
    functions.map(({ name, description, routes }) => ({
      name,
      description,
      routes: routes.map((route) => route.doc),
    })),
    serverUrl,
  );
}

/**
 * A function's app: the shared middleware, `/<name>/openapi.json` (no credential), then each
 * route in the given order (a literal path such as `/verify` must precede `/:id`).
 */
export function functionApp(definition: FunctionDefinition): Hono<AppEnv> {
  const app = createFunctionApp(definition.name);
  let document: ReturnType<typeof openApiDocument> | undefined;
  app.get("/openapi.json", (c) => {
    // Built on first request, not at start: it costs cold-start time nobody asked for.
    document ??= functionsDocument([definition]);
    return c.json(document);
  });
  const { routes } = definition;
  for (const { doc, handler } of routes) {
    // One registration per handler, in order: what `app.get(path, a, b)` does itself.
    for (const step of [...credentialChecks(doc), handler]) {
      app.on(doc.method.toUpperCase(), doc.path, step);
    }
  }
  return app;
}
