/**
 * The closed set of error codes, each with its HTTP status and the message clients see.
 * The cause of an error goes to the log only.
 */
export const errorCatalog = {
  invalid_json: { status: 400, message: "The request body is not valid JSON." },
  validation_failed: { status: 400, message: "The request is invalid; see details." },
  invalid_current_password: { status: 400, message: "The current password is not correct." },
  invalid_factor_code: {
    status: 400,
    message: "This code is not right, or was used already; enter a new one.",
  },
  invalid_passkey: {
    status: 400,
    message: "This passkey's answer was not accepted; see details, and ask for new options.",
  },
  invalid_token: {
    status: 400,
    message: "This link is invalid, used or expired; ask for a new one.",
  },
  unauthorized: { status: 401, message: "A valid session token or API key is required." },
  invalid_credentials: { status: 401, message: "The email or password is not correct." },
  forbidden: { status: 403, message: "You do not have permission to do this." },
  email_not_verified: {
    status: 403,
    message: "Confirm your email address first: follow the link in the mail we sent. Signing " +
      "in with the right password sends a new link (a few an hour).",
  },
  account_banned: { status: 403, message: "This account is suspended." },
  interactive_session_required: {
    status: 403,
    message: "This needs an interactive session, not an API key: sign in with " +
      "POST /auth/sign-in/email and send the session token as `Authorization: Bearer <token>`.",
  },
  not_found: { status: 404, message: "Not found." },
  method_not_allowed: { status: 405, message: "This method is not allowed on this path." },
  email_unavailable: {
    status: 409,
    message: "This email cannot be used to sign up. Sign in instead, or use another email.",
  },
  idempotency_key_reused: {
    status: 409,
    message: "This Idempotency-Key was already used with a different request.",
  },
  key_limit_reached: {
    status: 409,
    message: "You hold as many active API keys as your tier allows; revoke one first.",
  },
  key_not_rotatable: {
    status: 409,
    message: "Only an active key that has not been rotated already can be rotated.",
  },
  mfa_required: {
    status: 403,
    message: "Your role needs a second factor and this session has not verified one: call the " +
      "route in `nextRoute` (enrol an authenticator app or a passkey, or verify one of your " +
      "factors), then try again.",
  },
  step_up_required: {
    status: 403,
    message: "This needs a second factor verified in the last few minutes " +
      "(LATCHKEY_STEP_UP_MINUTES): verify one of your factors (POST /auth/factors/:id/verify " +
      "with a code or a passkey's assertion, or POST /auth/factors/recovery with a recovery " +
      "code; it refreshes this session's step-up) and try again. An account with no factor enrols one first (POST /auth/factors/totp or " +
      "POST /auth/factors/passkey/options).",
  },
  factor_limit_reached: {
    status: 409,
    message: "This account holds as many second factors as it may (10); remove one first.",
  },
  last_admin: {
    status: 409,
    message:
      "The last active admin cannot be demoted, banned or deleted; make another admin first.",
  },
  last_owner: {
    status: 409,
    message: "An organization always has an owner: make another member owner first (PATCH " +
      "/orgs/:id/members/:userId with role owner), or delete the organization.",
  },
  already_member: {
    status: 409,
    message: "This address belongs to a member of the organization already.",
  },
  slug_unavailable: {
    status: 409,
    message: "Another organization has this slug; choose another.",
  },
  already_exists: {
    status: 409,
    message: "A role or permission by this name exists already: choose another name, or change " +
      "that one.",
  },
  built_in: {
    status: 409,
    message: "Built-in roles and permissions are never deleted or renamed, and the admin role " +
      "(an organization's owner role) holds every permission: its set is fixed.",
  },
  in_use: {
    status: 409,
    message: "It is still held (the message counts by whom): move them off it first.",
  },
  webhook_disabled: {
    status: 409,
    message: "This webhook endpoint is disabled: enable it (PATCH /admin/webhooks/:id) first.",
  },
  network_not_allowed: {
    status: 403,
    message: "This API key may not be used from here: its network limits (allowedNetworks, " +
      "allowedOrigins) do not include this request's address or origin.",
  },
  org_suspended: {
    status: 403,
    message: "This organization is suspended: its members can read it but change nothing.",
  },
  payload_too_large: { status: 413, message: "The request body is too large." },
  request_header_too_large: {
    status: 431,
    message: "The request's headers are too large (at most 32 KiB in all).",
  },
  unsupported_media_type: {
    status: 415,
    message: "Send the request body as JSON (Content-Type: application/json).",
  },
  too_many_requests: { status: 429, message: "Too many requests; retry later." },
  rate_limited: {
    status: 429,
    message: "This API key's rate limit is used up for this minute; retry after the reset.",
  },
  usage_exceeded: {
    status: 429,
    message: "This API key's usage limit is used up.",
  },
  // OAuth 2.0's token-request errors (RFC 6749 §5.2), answered only to the token request's form
  // body (`grant_type=client_credentials`), in OAuth's shape: `{error, error_description}`.
  invalid_request: {
    status: 400,
    message: "The token request is malformed: a parameter is missing, repeated or invalid.",
  },
  invalid_client: {
    status: 401,
    message: "Client authentication failed: send an API key's id as client_id and the key as " +
      "client_secret (HTTP Basic or the body).",
  },
  unauthorized_client: {
    status: 400,
    message: "This client may not get a token now.",
  },
  unsupported_grant_type: {
    status: 400,
    message: "Only grant_type=client_credentials is supported here.",
  },
  invalid_scope: {
    status: 400,
    message: "The requested scope is invalid or beyond the key's scopes.",
  },
  internal_error: { status: 500, message: "Something went wrong on our side." },
  not_configured: { status: 501, message: "This is not configured on this deployment." },
  overloaded: {
    status: 503,
    message: "Too many password checks are waiting; retry shortly.",
  },
  upstream_unavailable: {
    status: 503,
    message: "A service this needs did not answer; retry shortly.",
  },
  database_unavailable: {
    status: 503,
    message: "The database is unavailable; retry shortly.",
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorCatalog;

/** The codes only OAuth's token request answers, never the JSON envelope. */
export const oauthErrorCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "invalid_request",
  "invalid_client",
  "unauthorized_client",
  "unsupported_grant_type",
  "invalid_scope",
]);

/** One failing input field (`path` is dotted, e.g. `scopes.0`). */
export interface ErrorDetail {
  path: string;
  message: string;
}

export interface ApiErrorOptions {
  message?: string;
  details?: ErrorDetail[];
  /** The route that resolves this error, as `POST /auth/factors/totp` (mfa_required). */
  nextRoute?: string;
  headers?: Record<string, string>;
  cause?: unknown;
}

/** The one error type routes throw; the app's error handler turns it into the envelope. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: ErrorDetail[];
  readonly nextRoute?: string;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, options: ApiErrorOptions = {}) {
    super(options.message ?? errorCatalog[code].message, { cause: options.cause });
    this.name = "ApiError";
    this.code = code;
    this.status = errorCatalog[code].status;
    this.details = options.details;
    this.nextRoute = options.nextRoute;
    this.headers = options.headers ?? {};
  }
}

export interface ErrorEnvelope {
  error: {
    code: ErrorCode;
    message: string;
    details?: ErrorDetail[];
    nextRoute?: string;
    requestId: string;
  };
}

export function errorEnvelope(error: ApiError, requestId: string): ErrorEnvelope {
  return {
    error: {
      code: error.code,
      message: error.message,
      ...(error.details ? { details: error.details } : {}),
      ...(error.nextRoute ? { nextRoute: error.nextRoute } : {}),
      requestId,
    },
  };
}

/**
 * An error as OAuth's token endpoint answers it (RFC 6749 §5.2): `error` is the code (the RFC's
 * own for its cases; for the rest, such as a rate limit, the envelope's), `error_description`
 * the message in the characters the RFC allows there (printable ASCII but `"` and `\`), and the
 * request id as the envelope carries it.
 */
export function oauthErrorBody(error: ApiError, requestId: string) {
  return {
    error: error.code,
    error_description: error.message.replaceAll('"', "'").replace(
      /[^\x20-\x21\x23-\x5b\x5d-\x7e]/g,
      "?",
    ),
    request_id: requestId,
  };
}
