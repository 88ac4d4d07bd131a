/**
 * The one way the console talks to Latchkey: JSON over fetch to the functions' URL from
 * config.json, with the signed-in credential as a Bearer token. Every refusal becomes an
 * ApiError carrying the envelope's code, message and request id, which the pages show.
 */

export class ApiError extends Error {
  constructor(status, envelope, { retryAfter } = {}) {
    const { code, message, requestId, details } = envelope;
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId ?? null;
    this.details = details ?? [];
    // The whole envelope: some codes carry more (mfa_required names the route to call).
    this.envelope = envelope;
    // Seconds, from Retry-After (a 429), or null.
    this.retryAfter = retryAfter ?? null;
  }
}

/**
 * What the pages do about refusals that are not theirs to handle (main.js sets them):
 * `mfaRequired(error)` when a role needs a second factor this session lacks, and
 * `stepUp(error)` when an action needs a factor verified just now, resolving true once one was
 * (the call is then sent again, once) or false when the person gave up.
 */
const refusalHandlers = { mfaRequired: null, stepUp: null };

export function onRefusal(handlers) {
  Object.assign(refusalHandlers, handlers);
}

const storageKey = "latchkey.console.credential";

/**
 * The credential lives in sessionStorage: it survives a reload, not the tab, and no other
 * site can read it. A cookie would not work from a static host on another origin anyway.
 */
export const credential = {
  get() {
    try {
      return JSON.parse(sessionStorage.getItem(storageKey) ?? "null");
    } catch {
      return null;
    }
  },
  set(value) {
    sessionStorage.setItem(storageKey, JSON.stringify(value));
  },
  clear() {
    sessionStorage.removeItem(storageKey);
  },
};

let config = null;

export async function loadConfig() {
  const response = await fetch("./config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  config = await response.json();
  return config;
}

export function consoleConfig() {
  return config;
}

function queryString(query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/**
 * Calls `path` under the functions' URL; resolves with the parsed body, or throws ApiError.
 * A 403 `step_up_required` asks for a factor (the stepUp handler) and sends the same request
 * again, once, with the same Idempotency-Key (a refused request stored nothing under it).
 */
export async function api(method, path, options = {}) {
  const { token, idempotent, idempotencyKey } = options;
  const headers = { accept: "application/json" };
  const bearer = token ?? credential.get()?.token;
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  // A retried click must not make a second user or key. A form that may be sent again after a
  // failure passes its own key, kept until it succeeds.
  if (idempotencyKey) headers["idempotency-key"] = idempotencyKey;
  else if (idempotent) headers["idempotency-key"] = crypto.randomUUID();
  try {
    return await send(method, path, options.query, options.body, headers);
  } catch (error) {
    // Only the console's own credential: a call with a token of its own (a sign-in's
    // challenge, a key being tried) is the caller's to handle.
    if (!(error instanceof ApiError) || error.status !== 403 || token !== undefined) throw error;
    if (error.code === "mfa_required") refusalHandlers.mfaRequired?.(error);
    if (error.code === "step_up_required" && refusalHandlers.stepUp) {
      if (!(await refusalHandlers.stepUp(error))) throw error;
      // A Supabase Auth step-up replaced the credential with a new access token.
      headers.authorization = `Bearer ${credential.get()?.token}`;
      return await send(method, path, options.query, options.body, headers);
    }
    throw error;
  }
}

async function send(method, path, query, body, headers) {
  let response;
  try {
    response = await fetch(`${config.apiUrl}${path}${queryString(query)}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
    });
  } catch {
    throw new ApiError(0, {
      code: "unreachable",
      message: `The API at ${config.apiUrl} did not answer (offline, or not allowed from this ` +
        "origin: add it to LATCHKEY_CORS_ORIGINS).",
    });
  }
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    throw new ApiError(
      response.status,
      parsed?.error ?? {
        code: "unexpected_answer",
        message: `HTTP ${response.status} without a JSON error.`,
        requestId: response.headers.get("x-request-id"),
      },
      { retryAfter: retryAfterOf(response) },
    );
  }
  return parsed;
}

function retryAfterOf(response) {
  const seconds = Number(response.headers.get("retry-after"));
  return Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : null;
}

/**
 * The raw response, for the audit export (NDJSON, streamed into a download); an export needs a
 * fresh second factor like any dangerous action.
 */
export async function apiDownload(path, query) {
  try {
    return await download(path, query);
  } catch (error) {
    if (error.code === "mfa_required") refusalHandlers.mfaRequired?.(error);
    if (error.code !== "step_up_required" || !refusalHandlers.stepUp) throw error;
    if (!(await refusalHandlers.stepUp(error))) throw error;
    return await download(path, query);
  }
}

async function download(path, query) {
  const response = await fetch(`${config.apiUrl}${path}${queryString(query)}`, {
    headers: { authorization: `Bearer ${credential.get()?.token}` },
    credentials: "omit",
  });
  if (!response.ok) {
    const parsed = await response.json().catch(() => null);
    throw new ApiError(
      response.status,
      parsed?.error ?? { code: "unexpected_answer", message: `HTTP ${response.status}` },
    );
  }
  return await response.blob();
}

/**
 * A call to Supabase Auth (LATCHKEY_IDENTITY=supabase) with the project's anon key and, when
 * `token` is given, that access token; its refusal as an ApiError (a wrong MFA code is said the
 * same way as Latchkey's own: `invalid_factor_code`).
 */
export async function supabaseAuth(method, path, { body, token, refused } = {}) {
  const headers = { apikey: config.supabaseAnonKey ?? "" };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${config.supabaseUrl}/auth/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
  }).catch(() => null);
  if (!response) {
    throw new ApiError(0, {
      code: "unreachable",
      message: `Supabase Auth at ${config.supabaseUrl} did not answer.`,
    });
  }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const retryAfter = Number(response.headers.get("retry-after")) || null;
    throw new ApiError(response.status, {
      code: answer.error_code === "mfa_verification_failed"
        ? "invalid_factor_code"
        : answer.error_code ?? answer.error ?? "supabase_auth_refused",
      message: answer.msg ?? answer.message ?? answer.error_description ??
        refused ?? `Supabase Auth answered HTTP ${response.status}.`,
    }, { retryAfter });
  }
  return answer;
}

/**
 * Supabase Auth's password grant: the access token it returns is the credential Latchkey
 * accepts.
 */
export async function supabaseSignIn(email, password) {
  const session = await supabaseAuth("POST", "/token?grant_type=password", {
    body: { email, password },
    refused: "Supabase Auth refused the sign-in.",
  });
  return session.access_token;
}
