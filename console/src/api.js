/**
 * The one way the console talks to Latchkey: JSON over fetch to the functions' URL from
 * config.json, with the signed-in credential as a Bearer token. Every refusal becomes an
 * ApiError carrying the envelope's code, message and request id, which the pages show.
 */

export class ApiError extends Error {
  constructor(status, { code, message, requestId, details }) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId ?? null;
    this.details = details ?? [];
  }
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

/** Calls `path` under the functions' URL; resolves with the parsed body, or throws ApiError. */
export async function api(
  method,
  path,
  { query, body, token, idempotent, idempotencyKey } = {},
) {
  const headers = { accept: "application/json" };
  const bearer = token ?? credential.get()?.token;
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  // A retried click must not make a second user or key. A form that may be sent again after a
  // failure passes its own key, kept until it succeeds.
  if (idempotencyKey) headers["idempotency-key"] = idempotencyKey;
  else if (idempotent) headers["idempotency-key"] = crypto.randomUUID();
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
    );
  }
  return parsed;
}

/** The raw response, for the audit export (NDJSON, streamed into a download). */
export async function apiDownload(path, query) {
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
 * Supabase Auth's password grant (LATCHKEY_IDENTITY=supabase): the access token it returns is
 * the credential Latchkey accepts.
 */
export async function supabaseSignIn(email, password) {
  const response = await fetch(`${config.supabaseUrl}/auth/v1/token?grant_type=password`, {
    method: "POST",
    headers: { "content-type": "application/json", apikey: config.supabaseAnonKey ?? "" },
    body: JSON.stringify({ email, password }),
    credentials: "omit",
  }).catch(() => null);
  if (!response) {
    throw new ApiError(0, {
      code: "unreachable",
      message: `Supabase Auth at ${config.supabaseUrl} did not answer.`,
    });
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ApiError(response.status, {
      code: body.error_code ?? body.error ?? "sign_in_failed",
      message: body.msg ?? body.error_description ?? "Supabase Auth refused the sign-in.",
    });
  }
  return body.access_token;
}
