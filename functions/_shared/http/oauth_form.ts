import type { z } from "zod";
import { ApiError } from "../ground/errors.ts";
import type { AppContext } from "./context.ts";

/**
 * OAuth 2.0's token request (RFC 6749): an `application/x-www-form-urlencoded` body, read by
 * OAuth's rules rather than the JSON routes' (§3.2: a parameter sent twice is an error, one with
 * no value counts as absent, unknown ones are ignored, repeated or not), refused with OAuth's
 * `invalid_request`.
 * How its errors look is function_app.ts's (`oauthErrors`).
 */

const formMediaType = "application/x-www-form-urlencoded";

/**
 * Whether the request is OAuth's token request: a form (its media type, whatever its
 * parameters) with something in it. An empty form is no request of OAuth's: `curl -d ''` and
 * some clients send one with a body-less call, which the route's own call then answers as before.
 */
export async function isTokenRequest(c: AppContext): Promise<boolean> {
  const mediaType = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
  // Hono keeps the text it read: the form's reader reads it again for free.
  return mediaType === formMediaType && await c.req.text() !== "";
}

/**
 * An OAuth error (invalid_request and its kin): the catalogue's code, this request's reason.
 * Its text stays in the characters RFC 6749 allows in `error_description` (function_app.ts).
 */
export function oauthError(
  code: "invalid_request" | "invalid_client" | "unsupported_grant_type" | "invalid_scope",
  message: string,
  headers?: Record<string, string>,
): ApiError {
  return new ApiError(code, { message, headers });
}

/**
 * The form's parameters named in `known` that have a value, each once; the others are ignored.
 * Bytes that are not UTF-8 and percent escapes that are not UTF-8 arrive as U+FFFD (never an
 * exception); a malformed escape stays as sent.
 */
export async function readFormParameters(
  c: AppContext,
  known: ReadonlySet<string>,
): Promise<Map<string, string>> {
  const parameters = new Map<string, string>();
  const repeated = new Set<string>();
  for (const [name, value] of new URLSearchParams(await c.req.text())) {
    if (value === "" || !known.has(name)) continue;
    if (parameters.has(name)) repeated.add(name);
    parameters.set(name, value);
  }
  if (repeated.size > 0) {
    throw oauthError(
      "invalid_request",
      `Each parameter may be sent once; repeated: ${[...repeated].slice(0, 5).join(", ")}.`,
    );
  }
  for (const value of parameters.values()) {
    // PostgreSQL text cannot hold NUL, and no parameter of OAuth's needs it.
    if (value.includes("\u0000")) {
      throw oauthError("invalid_request", "NUL characters are not allowed.");
    }
  }
  return parameters;
}

/**
 * The token request's parameters: `grant_type` first (absent: invalid_request; one not in
 * `grantTypes`: unsupported_grant_type), then the declared schema (unknown names ignored).
 */
export async function readTokenRequest<S extends z.ZodObject>(
  c: AppContext,
  grantTypes: readonly string[],
  schema: S,
): Promise<z.output<S>> {
  const parameters = await readFormParameters(
    c,
    new Set(["grant_type", ...Object.keys(schema.shape)]),
  );
  const grantType = parameters.get("grant_type");
  if (grantType === undefined) {
    throw oauthError("invalid_request", "grant_type is required.");
  }
  if (!grantTypes.includes(grantType)) {
    throw oauthError(
      "unsupported_grant_type",
      `Only grant_type=${grantTypes.join(" or ")} is supported here.`,
    );
  }
  const parsed = schema.safeParse(Object.fromEntries(parameters));
  if (!parsed.success) {
    const [issue] = parsed.error.issues;
    throw oauthError("invalid_request", `${issue.path.map(String).join(".")}: ${issue.message}`);
  }
  return parsed.data;
}
