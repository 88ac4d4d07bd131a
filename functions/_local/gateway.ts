import { app as admin } from "../admin/app.ts";
import { app as auth } from "../auth/app.ts";
import { app as keys } from "../keys/app.ts";
import { app as version } from "../version/app.ts";
import { ApiError, errorEnvelope } from "../_shared/errors.ts";

/** The functions the gateway serves, by name; each app already answers under `/<name>`. */
export const functionApps = { admin, auth, keys, version } as const;

export const functionsBasePath = "/functions/v1";

/**
 * Serves every function in one process at the URLs `supabase functions serve` uses:
 * `/functions/v1/<name>/...` is handed to that function's app as `/<name>/...`.
 */
export function gatewayHandler(request: Request, info?: Deno.ServeHandlerInfo) {
  const url = new URL(request.url);
  const rest = url.pathname.startsWith(`${functionsBasePath}/`)
    ? url.pathname.slice(functionsBasePath.length)
    : null;
  const name = rest?.split("/")[1] ?? "";
  if (rest === null || !Object.hasOwn(functionApps, name)) {
    const requestId = crypto.randomUUID();
    const error = new ApiError("not_found", {
      message: `No function here. Functions: ${
        Object.keys(functionApps).map((fn) => `${functionsBasePath}/${fn}`).join(", ")
      }.`,
    });
    return Response.json(errorEnvelope(error, requestId), {
      status: 404,
      headers: {
        "x-request-id": requestId,
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
      },
    });
  }
  url.pathname = rest;
  // A fresh Request (not `new Request(url, request)`): copying the original's abort signal
  // makes Deno warn on every request.
  const forwarded = new Request(url, {
    method: request.method,
    headers: request.headers,
    body: request.body,
  });
  return functionApps[name as keyof typeof functionApps].fetch(forwarded, info);
}
