import { Hono } from "hono";
import { ApiError } from "../_shared/errors.ts";
import { type AppEnv, createFunctionApp } from "../_shared/http.ts";
import { openApiDocument } from "../_shared/openapi.ts";
import { latchkeyVersion } from "../_shared/version.ts";
import { versionRouteDocs } from "./route_docs.ts";

const versionRoutes = new Hono<AppEnv>()
  .get("/", (c) =>
    c.json({
      version: latchkeyVersion,
      environment: c.get("runtime").config.LATCHKEY_ENV,
    }))
  .get("/health", async (c) => {
    try {
      await c.get("runtime").sql`select 1`;
    } catch (error) {
      throw new ApiError("database_unavailable", {
        details: [{ path: "database", message: "unavailable" }],
        cause: error,
      });
    }
    return c.json({ status: "ok", database: "ok" });
  });

/** Function `version`: release, environment and health (no credentials). */
export const app = createFunctionApp("version")
  .get(
    "/openapi.json",
    (c) => c.json(openApiDocument({ version: versionRouteDocs })),
  )
  .route("/", versionRoutes);
