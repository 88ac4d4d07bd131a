import type { RouteDoc } from "../_shared/openapi.ts";

/** The `version` routes, as OpenAPI documents them. */
export const versionRouteDocs: RouteDoc[] = [
  {
    method: "get",
    path: "/",
    summary: "Release and environment",
    auth: [],
    responses: { 200: "`{version, environment}`." },
  },
  {
    method: "get",
    path: "/health",
    summary: "Is the database reachable",
    auth: [],
    responses: { 200: '`{status: "ok", database: "ok"}`.', 503: "The database is down." },
  },
];
