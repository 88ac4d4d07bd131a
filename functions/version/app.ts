import { adminKeyWarnings } from "../_shared/identity/static_admin_key.ts";
import { withStatementTimeout } from "../_shared/db/database.ts";
import { ApiError } from "../_shared/ground/errors.ts";
import { defineRoute, functionApp, type FunctionDefinition } from "../_shared/api/routes.ts";
import { latchkeyVersion } from "../_shared/ground/version.ts";

const versionRoute = defineRoute({
  method: "get",
  path: "/",
  summary: "Release and environment",
  auth: [],
  responses: { 200: "`{version, environment}`." },
}, (c) =>
  c.json({
    version: latchkeyVersion,
    environment: c.get("runtime").config.LATCHKEY_ENV,
  }));

const healthRoute = defineRoute({
  method: "get",
  path: "/health",
  summary: "Is the database reachable; what an operator should act on",
  auth: [],
  responses: {
    200: '`{status: "ok", database: "ok", warnings: [{code, message}]}`: warnings name no ' +
      "key, only that an X-Admin-Key never expires, expires within 7 days or has expired.",
    503: "The database is down.",
  },
}, async (c) => {
  try {
    const { sql } = c.get("runtime");
    await withStatementTimeout(sql, sql`select 1`);
  } catch (error) {
    throw new ApiError("database_unavailable", {
      details: [{ path: "database", message: "unavailable" }],
      cause: error,
    });
  }
  const { config } = c.get("runtime");
  return c.json({
    status: "ok",
    database: "ok",
    warnings: adminKeyWarnings(config, { withNames: false }),
  });
});

/** Function `version`: release, environment and health (no credentials). */
export const versionFunction: FunctionDefinition = {
  name: "version",
  description: "Release, environment and database health; no credential needed.",
  routes: [versionRoute, healthRoute],
};

export const app = functionApp(versionFunction);
