import { adminFunction, app as admin } from "../admin/app.ts";
import { app as auth, authFunction } from "../auth/app.ts";
import { app as keys, keysFunction } from "../keys/app.ts";
import { app as version, versionFunction } from "../version/app.ts";
import { ApiError, errorEnvelope } from "../_shared/ground/errors.ts";
import { apiHeadersWithRequestId } from "../_shared/http/function_app.ts";
import { functionsBasePath } from "../_shared/http/openapi.ts";
import { lazyDocument } from "../_shared/api/routes.ts";
import { getRuntime } from "../_shared/api/isolate.ts";
import { getPath } from "hono/utils/url";
import { apiReferencePath, serveApiReference } from "./api_reference.ts";
import { consolePath, serveConsole } from "./console_site.ts";

/** The functions the gateway serves, by name; each app already answers under `/<name>`. */
export const functionApps = { admin, auth, keys, version } as const;

export { functionsBasePath };

/** The whole API, every function's routes in one OpenAPI document. */
export const apiDocument = lazyDocument(
  [adminFunction, authFunction, keysFunction, versionFunction],
  functionsBasePath,
);

function noFunctionHere() {
  const requestId = crypto.randomUUID();
  const error = new ApiError("not_found", {
    message: `No function here. Functions: ${
      Object.keys(functionApps).map((fn) => `${functionsBasePath}/${fn}`).join(", ")
    }; API reference: ${apiReferencePath}; console: ${consolePath}/.`,
  });
  return Response.json(errorEnvelope(error, requestId), {
    status: 404,
    headers: apiHeadersWithRequestId(requestId),
  });
}

/**
 * Serves every function in one process at the URLs `supabase functions serve` uses:
 * `/functions/v1/<name>/...` goes to that function's app, which routes on `/<name>/...`.
 */
export function gatewayHandler(request: Request, info?: Deno.ServeHandlerInfo) {
  // The path alone, without parsing the whole URL (this runs on every request).
  const path = getPath(request);
  if (path === `${functionsBasePath}/openapi.json`) {
    return Response.json(apiDocument(), { headers: apiHeadersWithRequestId(crypto.randomUUID()) });
  }
  if (path.startsWith(apiReferencePath) && ["GET", "HEAD"].includes(request.method)) {
    return serveApiReference(path).then((page) => page ?? noFunctionHere());
  }
  if (
    (path === consolePath || path.startsWith(`${consolePath}/`)) &&
    ["GET", "HEAD"].includes(request.method)
  ) {
    return serveConsole(path, getRuntime().config).then((page) => page ?? noFunctionHere());
  }
  const rest = path.startsWith(`${functionsBasePath}/`)
    ? path.slice(functionsBasePath.length)
    : null;
  const name = rest?.split("/")[1] ?? "";
  if (rest === null || !Object.hasOwn(functionApps, name)) return noFunctionHere();
  // As it came: each app routes on the part after /functions/v1 (createFunctionApp).
  return functionApps[name as keyof typeof functionApps].fetch(request, info);
}
