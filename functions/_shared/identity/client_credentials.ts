import { requestJson, withStatementTimeout } from "../db/database.ts";
import { base64Decode, constantTimeEqual } from "../ground/crypto.ts";
import { ApiError } from "../ground/errors.ts";
import type { Principal } from "../ground/principal.ts";
import type { AppContext } from "../http/context.ts";
import { oauthError } from "../http/oauth_form.ts";
import { requestInfo, throttleClient } from "../http/request.ts";
import { isWellFormedApiKey } from "../keys/api_key_format.ts";
import { keyUseOf, networkRefusalMessage } from "../keys/network_limits.ts";
import { authenticateApiKey, rateLimitHeaders } from "./api_key_check.ts";

/**
 * OAuth 2.0 client credentials (RFC 6749 §4.4) over API keys: the client id is a key's id, the
 * client secret the key itself. The key is checked by the one verification every use of a key
 * goes through (rate limit, credits, revocation, the owner's ban), then bound to the id it was
 * presented with. Failed client authentications count against the network client, as wrong
 * X-Admin-Keys do; past the allowance every token request of that client answers 429, right
 * secret or wrong, so a guesser learns nothing more.
 */

/** The grant, and the client authentications it takes, as discovery lists them (RFC 8414). */
export const clientCredentialsGrant = "client_credentials";
export const clientAuthenticationMethods = ["client_secret_basic", "client_secret_post"] as const;

export interface ClientCredentialsForm {
  client_id?: string;
  client_secret?: string;
}

/** The client's id and secret, and the way the request presented them. */
export interface PresentedClient {
  id: string;
  secret: string;
  method: typeof clientAuthenticationMethods[number];
}

const howToAuthenticate = "Authenticate the client with HTTP Basic (client_secret_basic) or with " +
  "client_id and client_secret in the body (client_secret_post): the id is an API key's id, the " +
  "secret the key.";

/** One answer for an unknown id, a wrong secret and another key's id: nothing tells them apart. */
const failedAuthentication = "Client authentication failed: client_id must be an API key's id " +
  "and client_secret that very key.";

/** RFC 6749 §2.3.1: Basic's user name and password are each form-urlencoded first. */
function formDecoded(text: string): string | null {
  try {
    return decodeURIComponent(text.replaceAll("+", " "));
  } catch {
    return null;
  }
}

function basicCredentials(authorization: string): { id: string; secret: string } | null {
  const match = /^Basic[ ]+([A-Za-z0-9+/=_-]+)[ ]*$/i.exec(authorization);
  const bytes = match ? base64Decode(match[1]) : null;
  if (!bytes) return null;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
  const colon = text.indexOf(":");
  if (colon < 0) return null;
  const id = formDecoded(text.slice(0, colon));
  const secret = formDecoded(text.slice(colon + 1));
  return id === null || secret === null ? null : { id, secret };
}

/**
 * The client authentication the token request carries: HTTP Basic or the body's client_id and
 * client_secret, never both (`invalid_request`); none, or a scheme other than Basic, is
 * `invalid_client`. Other credentials (x-api-key, a session cookie) are no client
 * authentication here and are ignored.
 */
export function presentedClient(c: AppContext, form: ClientCredentialsForm): PresentedClient {
  const authorization = c.req.header("authorization");
  if (authorization !== undefined) {
    if (form.client_secret !== undefined) {
      throw oauthError(
        "invalid_request",
        "Authenticate the client one way: HTTP Basic or client_secret in the body, not both.",
      );
    }
    const basic = basicCredentials(authorization);
    if (!basic) {
      throw oauthError(
        "invalid_client",
        `The Authorization header is not HTTP Basic. ${howToAuthenticate}`,
      );
    }
    if (form.client_id !== undefined && form.client_id !== basic.id) {
      throw oauthError("invalid_request", "client_id in the body differs from HTTP Basic's.");
    }
    return { ...basic, method: "client_secret_basic" };
  }
  if (form.client_id === undefined || form.client_secret === undefined) {
    throw oauthError("invalid_client", `No client authentication. ${howToAuthenticate}`);
  }
  return { id: form.client_id, secret: form.client_secret, method: "client_secret_post" };
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function throttled(retryAfter: number): ApiError {
  return new ApiError("too_many_requests", {
    message: "Too many failed client authentications from this client; retry later.",
    headers: { "Retry-After": String(retryAfter) },
  });
}

const encoder = new TextEncoder();

/**
 * The key's principal, when the presented id and secret are one usable key. A failure is
 * thrown: invalid_client (counted against the client and audited once per client per minute),
 * unauthorized_client (a disabled key, a suspended owner or organization), or the 429 of the client's throttle,
 * the key's rate limit or its credits. Rate-limit headers are set on the answer to come.
 */
export async function authenticateClient(
  c: AppContext,
  presented: PresentedClient,
): Promise<Principal> {
  const runtime = c.get("runtime");
  const { sql, config } = runtime;
  const client = throttleClient(c);
  const limit = config.LATCHKEY_CLIENT_CREDENTIALS_MAX_FAILURES;
  const window = `${config.LATCHKEY_CLIENT_CREDENTIALS_FAILURE_WINDOW_MINUTES} minutes`;
  // Only an id that is one is audited: a client that swapped id and secret sent its key as id.
  const clientId = uuidPattern.test(presented.id) ? presented.id : null;
  const failed = async (reason: string, message = failedAuthentication): Promise<ApiError> => {
    const [{ retry_after }] = await withStatementTimeout(
      sql,
      sql<{ retry_after: number }[]>`
        select latchkey.record_client_authentication_failure(${client}, ${clientId}::uuid,
          ${reason}, ${limit}, ${window}::interval, ${requestJson(sql, requestInfo(c))})
          as retry_after`,
    );
    return retry_after > 0 ? throttled(retry_after) : oauthError("invalid_client", message);
  };
  // Not a key or not an id: no database lookup of either, counted all the same.
  if (clientId === null || !isWellFormedApiKey(presented.secret)) {
    throw await failed("malformed");
  }
  // A throttled client's secret is not even checked: right or wrong, it learns nothing.
  const [{ retry_after }] = await withStatementTimeout(
    sql,
    sql<{ retry_after: number }[]>`
      select latchkey.throttle_retry_after('client_credentials', ${client}, ${limit},
        ${window}::interval) as retry_after`,
  );
  if (retry_after > 0) throw throttled(retry_after);

  const use = keyUseOf(c);
  const outcome = await authenticateApiKey(runtime, presented.secret, requestInfo(c), use);
  if (outcome.keyId === null) throw await failed("unknown_secret");
  // The key must be the one the id names: another key's secret proves nothing about this id.
  if (
    !constantTimeEqual(encoder.encode(outcome.keyId), encoder.encode(presented.id.toLowerCase()))
  ) {
    throw await failed("another_keys_id");
  }
  switch (outcome.code) {
    case "VALID":
      break;
    case "REVOKED":
      throw await failed("revoked", "The API key has been revoked.");
    case "EXPIRED":
      throw await failed("expired", "The API key has expired.");
    case "DISABLED":
      throw new ApiError("unauthorized_client", {
        message: "The API key is disabled; its owner or an admin can enable it again.",
      });
    case "OWNER_BANNED":
      throw new ApiError("unauthorized_client", { message: "The key's owner is suspended." });
    case "ORG_SUSPENDED":
      throw new ApiError("unauthorized_client", {
        message: "The key's organization is suspended.",
      });
    case "NETWORK_NOT_ALLOWED":
      throw new ApiError("unauthorized_client", {
        message: networkRefusalMessage(outcome.networkRefusal, use, "request"),
      });
    case "RATE_LIMITED":
    case "USAGE_EXCEEDED":
      throw new ApiError(outcome.code === "RATE_LIMITED" ? "rate_limited" : "usage_exceeded", {
        headers: outcome.rateLimit ? rateLimitHeaders(outcome.rateLimit) : {},
      });
    default:
      throw await failed("unknown_secret");
  }
  const principal = outcome.principal!;
  if (principal.rateLimit) {
    for (const [name, value] of Object.entries(rateLimitHeaders(principal.rateLimit))) {
      c.header(name, value);
    }
  }
  return principal;
}

/**
 * The key's principal narrowed to the requested scope (space-separated; none: all the key's
 * scopes as they count now), so the token's scopes, permissions and `app_role` say no more.
 * A scope the key does not hold now is `invalid_scope`.
 */
export function narrowedToScope(principal: Principal, scope: string | undefined): Principal {
  const held = principal.apiKey?.scopes ?? [];
  const requested = [...new Set((scope ?? "").split(" ").filter(Boolean))];
  if (requested.length === 0) return principal;
  const missing = requested.filter((name) => !held.includes(name));
  if (missing.length > 0) {
    throw oauthError(
      "invalid_scope",
      `The key does not hold ${missing.slice(0, 3).map((name) => name.slice(0, 64)).join(", ")}${
        missing.length > 3 ? " and more" : ""
      }.`,
    );
  }
  const granted = held.filter((name) => requested.includes(name));
  return {
    ...principal,
    permissions: principal.permissions.filter((permission) => granted.includes(permission)),
    apiKey: { ...principal.apiKey!, scopes: granted },
  };
}
