import { getPath } from "hono/utils/url";
import { ApiError, errorEnvelope } from "../_shared/ground/errors.ts";
import { apiHeadersWithRequestId } from "../_shared/http/function_app.ts";
import { functionsBasePath } from "../_shared/http/openapi.ts";
import { getRuntime } from "../_shared/api/isolate.ts";
import { apiReferencePath, serveApiReference } from "./api_reference.ts";
import { consolePath, serveConsole } from "./console_site.ts";
import { apiDocument, exampleFunctions, functionApps } from "./deployed_functions.ts";

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

/** Each example function's handler, made on its first request. */
const exampleHandlers = new Map<
  string,
  Promise<(request: Request, info?: Deno.ServeHandlerInfo) => Promise<Response>>
>();

function serveExample(
  name: string,
  request: Request,
  info?: Deno.ServeHandlerInfo,
): Promise<Response> {
  let handler = exampleHandlers.get(name);
  if (!handler) {
    handler = exampleFunctions[name]();
    exampleHandlers.set(name, handler);
    // A failed load is tried again by the next request.
    handler.catch(() => exampleHandlers.delete(name));
  }
  return handler.then((serve) => serve(request, info));
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
  if (rest !== null && Object.hasOwn(exampleFunctions, name)) {
    return serveExample(name, request, info);
  }
  if (rest === null || !Object.hasOwn(functionApps, name)) return noFunctionHere();
  // As it came: each app routes on the part after /functions/v1 (createFunctionApp).
  return functionApps[name].fetch(request, info);
}
