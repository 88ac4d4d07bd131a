import { z } from "zod";
import type { FunctionDefinition } from "../../functions/_shared/api/routes.ts";
import { functionDefinitions } from "../../functions/_local/deployed_functions.ts";
import type { RouteDoc } from "../../functions/_shared/http/openapi.ts";

/**
 * The route catalogue as tests see it: every operation the functions declare with
 * `defineRoute`, and nothing else. Tests that must cover every route (the hostile-input
 * property) take their targets from here, so a new route is covered because it is declared.
 */
export const declaredFunctions: FunctionDefinition[] = functionDefinitions;

export interface Operation {
  method: string;
  /** As the functions' URLs have it: `/admin/users/:id`. */
  path: string;
  doc: RouteDoc;
  /** The body schema's top-level field names; empty without a body. */
  bodyFields: string[];
  /** The query schema's parameter names. */
  queryNames: string[];
}

function fieldNames(schema: z.ZodType | undefined): string[] {
  if (!schema) return [];
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as {
    properties?: Record<string, unknown>;
  };
  return Object.keys(json.properties ?? {});
}

export const operations: Operation[] = declaredFunctions.flatMap(({ name, routes }) =>
  routes.map(({ doc }) => ({
    method: doc.method.toUpperCase(),
    path: `/${name}${doc.path === "/" ? "" : doc.path}`,
    doc,
    bodyFields: fieldNames(doc.body),
    queryNames: fieldNames(doc.query),
  }))
);
