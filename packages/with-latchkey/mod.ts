import { createClient as createSupabaseClient, type SupabaseClient } from "@supabase/supabase-js";
import { createLatchkeyClient, type LatchkeyClient, type paths } from "./client.ts";
import { type Claims, jwtVerifier, looksLikeJwt, type TrustedIssuer } from "./jwt.ts";
import { TokenCache } from "./token_cache.ts";
import { KeyAnswerCache, type Verified } from "./key_cache.ts";
import { KeyUses } from "./key_uses.ts";

export {
  createLatchkeyClient,
  type LatchkeyClient,
  type LatchkeyClientOptions,
  type paths,
} from "./client.ts";
export type { Claims, TrustedIssuer } from "./jwt.ts";
export { flushAllKeyUses as flushKeyUses } from "./key_uses.ts";

/** This package's version (package.json's; tests/unit/with_latchkey_package_test.ts compares). */
export const packageVersion = "0.1.0";

/** The credentials a handler may accept. */
export type CredentialKind = "apiKey" | "session" | "jwt";

export interface WithLatchkeyOptions {
  /** Latchkey's functions root, e.g. `https://<project-ref>.supabase.co/functions/v1`. */
  url: string;
  /** The project's URL, where `ctx.supabase` sends its Data API requests. */
  supabaseUrl: string;
  /**
   * Sent as `apikey` with those requests: a hosted project's API gateway asks for the project's
   * anon (or publishable) key. Without it the access token is sent there too, which a plain
   * PostgREST ignores.
   */
  supabaseAnonKey?: string;
  /**
   * What an API key (or a key's token) must hold, every one; 403 otherwise. A session, or a
   * session's token, is its user in person and holds every application scope, as on Latchkey.
   */
  scopes?: string[];
  /** Which credentials are taken (default all three); any other is refused with 401. */
  accept?: CredentialKind[];
  /** Whose JWTs are taken besides Latchkey's own (ES256 from its JWKS). */
  jwt?: {
    /** Supabase Auth's access tokens of this project (its JWKS); off unless asked for. */
    supabaseAuth?: boolean;
    /** The project's legacy HS256 JWT secret, for Latchkey's and (with `supabaseAuth`) Supabase Auth's tokens signed with it. */
    secret?: string;
    /** Any other issuer, with its JWKS URL or secret. */
    issuers?: TrustedIssuer[];
    /** `aud` a token must name (default `authenticated`). */
    audience?: string;
  };
  /**
   * Proxies in front of this function that append to `X-Forwarded-For`: the client's address,
   * sent to Latchkey for a key's `allowedNetworks`, is the entry that many hops from the right.
   * 0: the connection's address (`info.remoteAddr` of Deno's serve). Default: 1 inside Supabase's
   * edge runtime (its gateway), else 0; as Latchkey's own LATCHKEY_TRUSTED_PROXY_HOPS.
   */
  trustedProxyHops?: number;
  /** A minted token is renewed when less than this is left of it (default 60 s). */
  refreshBeforeSeconds?: number;
  /**
   * Verify's answers that Latchkey lets be reused (`cacheSeconds`: a key with no rate limit and
   * no credits that its owner, an admin or the deployment made cacheable; no key by default)
   * are held for that long in this isolate, so such a key's requests make no call; their uses
   * go back to Latchkey in batches. `false`: every request asks Latchkey.
   */
  keyCache?: false | {
    /** Keys held at most, the least recently used dropped first (default 1000). */
    maxEntries?: number;
    /** Cached uses are reported at most this long after the first of them (default 10 s)... */
    flushSeconds?: number;
    /** ...or as soon as this many are held (default 1000). */
    flushUses?: number;
  };
  /** The fetch for calls to Latchkey and to JWKS (default: the global one). */
  fetch?: (request: Request) => Promise<Response>;
  /** Now, in milliseconds (default `Date.now`; tests move it). */
  now?: () => number;
}

/** Who is calling, as Latchkey verified it. */
export interface LatchkeyPrincipal {
  /** The credential presented: an API key, a Latchkey session token, or a JWT. */
  kind: "api_key" | "session" | "jwt";
  /**
   * The user acting: the key's owner, the session's user, the token's `sub`; null for an
   * organization's key (and its token), which acts for the organization, no person.
   */
  userId: string | null;
  /** The API key, when a key is acting (also for a key's JWT, its `key_id`). */
  keyId: string | null;
  /** The session, when a session is acting (its id, or a token's `session_id`). */
  sessionId: string | null;
  /** The key's scopes as effective now; a session has none (it acts in person). */
  scopes: string[];
  /** Latchkey's role for this principal (`app_role`): a session's user's, or a key's. */
  role: string | null;
  /** The organization that owns the key, when verify or the token names one. */
  orgId: string | null;
  /** The claims of the token `ctx.supabase` sends. */
  claims: Claims;
  /** The key's rate limit after this request (API keys). */
  rateLimit: { limit: number; remaining: number; resetAt: string } | null;
  /** The key's metadata (API keys). */
  metadata: Record<string, unknown> | null;
}

export interface LatchkeyContext {
  principal: LatchkeyPrincipal;
  /** supabase-js whose Data API requests carry `accessToken`: RLS sees the principal's user. */
  supabase: SupabaseClient;
  /** A JWT for the principal: minted by `POST /auth/token` (cached), or the one presented. */
  accessToken: string;
}

export type LatchkeyHandler = (
  request: Request,
  context: LatchkeyContext,
) => Response | Promise<Response>;

/** A check's outcome: the context and the headers to add to the answer, or the refusal. */
export type LatchkeyOutcome =
  | { ok: true; context: LatchkeyContext; headers: Record<string, string> }
  | { ok: false; response: Response };

/** What Deno's serve (and Hono on Deno, as `c.env`) hands a handler beside the request. */
export interface ConnectionInfo {
  /** A TCP connection's has `hostname`; a Unix socket's none. */
  remoteAddr?: { transport?: string; hostname?: string };
}

export type LatchkeyCheck = (
  request: Request,
  connection?: ConnectionInfo,
) => Promise<LatchkeyOutcome>;

/** Latchkey's error envelope, as its functions answer it. */
export interface ErrorEnvelope {
  error: {
    code: string;
    message: string;
    details?: { path: string; message: string }[];
    nextRoute?: string;
    requestId: string;
  };
}

interface Refusal {
  status: number;
  code: string;
  message: string;
  /** Latchkey's, when Latchkey refused: its logs and audit carry the same. */
  requestId?: string;
  headers?: Record<string, string>;
  details?: { path: string; message: string }[];
  nextRoute?: string;
}

/** Thrown inside the check to answer with a refusal. */
class Refused extends Error {
  constructor(readonly refusal: Refusal) {
    super(refusal.message);
  }
}

/**
 * What a key's verify code means, exactly as Latchkey's own routes answer a key they refuse
 * (functions/_shared/identity/authenticate.ts; tests/unit/with_latchkey_package_test.ts compares).
 */
export const keyRefusals: Record<string, { status: number; code: string; message: string }> = {
  MALFORMED: {
    status: 401,
    code: "unauthorized",
    message: "The API key is malformed; check that it was copied whole.",
  },
  NOT_FOUND: { status: 401, code: "unauthorized", message: "The API key is not valid." },
  REVOKED: { status: 401, code: "unauthorized", message: "The API key has been revoked." },
  EXPIRED: { status: 401, code: "unauthorized", message: "The API key has expired." },
  DISABLED: {
    status: 401,
    code: "unauthorized",
    message: "The API key is disabled; its owner or an admin can enable it again.",
  },
  OWNER_BANNED: { status: 403, code: "account_banned", message: "This account is suspended." },
  ORG_SUSPENDED: {
    status: 403,
    code: "org_suspended",
    message: "The API key's organization is suspended; its keys work again when it is " +
      "unsuspended.",
  },
  RATE_LIMITED: {
    status: 429,
    code: "rate_limited",
    message: "This API key's rate limit is used up for this minute; retry after the reset.",
  },
  USAGE_EXCEEDED: {
    status: 429,
    code: "usage_exceeded",
    message: "This API key's usage limit is used up.",
  },
  NETWORK_NOT_ALLOWED: {
    status: 403,
    code: "network_not_allowed",
    message: "This API key may not be used from here: its network limits (allowedNetworks, " +
      "allowedOrigins) do not include this request's address or origin.",
  },
};

const missingCredential = "A valid session token or API key is required.";
const rateLimitHeaderNames = [
  "ratelimit-limit",
  "ratelimit-remaining",
  "ratelimit-reset",
  "retry-after",
];

/** The shapes of Latchkey's credentials: keys `lk_…` (49 characters after the prefix), sessions `lks_…` (43). */
const apiKeyShape = /^[a-z][a-z0-9]{0,9}_[0-9A-Za-z]{49}$/;
const sessionTokenShape = /^lks_[A-Za-z0-9_-]{43}$/;

/** Which kind of credential a text is, by its shape alone (they cannot be mistaken). */
export function credentialKind(text: string): CredentialKind | null {
  if (apiKeyShape.test(text)) return "apiKey";
  if (sessionTokenShape.test(text)) return "session";
  if (looksLikeJwt(text)) return "jwt";
  return null;
}

/**
 * The credential a request presents: `x-api-key` first (supabase-js sends its anon key as
 * `Authorization`), then `Authorization: Bearer`.
 */
function presentedCredential(request: Request): string | null {
  const apiKey = request.headers.get("x-api-key");
  if (apiKey !== null) return apiKey.trim();
  const authorization = request.headers.get("authorization");
  if (authorization === null) return null;
  const match = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(authorization);
  if (!match) {
    throw new Refused({
      status: 401,
      code: "unauthorized",
      message: "The Authorization header must be `Bearer <token>`.",
    });
  }
  return match[1];
}

const ipv4Shape = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * An IP address as Latchkey's verify takes it (dotted IPv4, or IPv6 as the URL parser writes
 * it), or null: a name, a port, a zone id or garbage is not sent, so a limited key is refused
 * rather than the request failing.
 */
export function ipAddressOf(text: string | null | undefined): string | null {
  const address = text?.trim() ?? "";
  if (ipv4Shape.test(address)) return address;
  if (!address.includes(":") || !/^[0-9a-fA-F:.]+$/.test(address)) return null;
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
}

/**
 * The client's address: with `hops` trusted proxies, the entry that many from the right of
 * `X-Forwarded-For` (the connection's address counted as the last), as Latchkey reads its own
 * requests; the entries left of those are whatever the client wrote.
 */
function clientAddress(request: Request, connection: ConnectionInfo | undefined, hops: number) {
  const remote = connection?.remoteAddr?.hostname ?? null;
  if (hops === 0) return ipAddressOf(remote);
  const chain = (request.headers.get("x-forwarded-for") ?? "").split(",")
    .map((hop) => hop.trim()).filter(Boolean);
  if (remote) chain.push(remote);
  return ipAddressOf(chain[Math.max(0, chain.length - 1 - hops)]);
}

/** A refusal as Latchkey answers one: the envelope, `x-request-id`, no caching. */
function refusalResponse(refusal: Refusal): Response {
  const requestId = refusal.requestId ?? crypto.randomUUID();
  const headers = new Headers(refusal.headers);
  headers.set("cache-control", "no-store");
  headers.set("x-request-id", requestId);
  if (refusal.status === 401) headers.set("www-authenticate", 'Bearer realm="latchkey"');
  if (refusal.status === 503 && !headers.has("retry-after")) headers.set("retry-after", "1");
  const body: ErrorEnvelope = {
    error: {
      code: refusal.code,
      message: refusal.message,
      ...(refusal.details ? { details: refusal.details } : {}),
      ...(refusal.nextRoute ? { nextRoute: refusal.nextRoute } : {}),
      requestId,
    },
  };
  return Response.json(body, { status: refusal.status, headers });
}

function rateLimitHeadersOf(response: Response): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of rateLimitHeaderNames) {
    const value = response.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  return headers;
}

const unavailable: Refusal = {
  status: 503,
  code: "upstream_unavailable",
  message: "Latchkey did not answer; retry shortly.",
};

/**
 * Latchkey's own refusal, passed on as it answered it (its code, message, request id and
 * rate-limit headers); an answer that is no envelope is Latchkey being unavailable.
 */
function passedOn(response: Response, error: unknown): Refused {
  const envelope = (error as Partial<ErrorEnvelope> | undefined)?.error;
  // Latchkey refuses a credential with these; any other answer (a 404 from a wrong `url`, a
  // 5xx) means Latchkey cannot be asked, not that the caller is refused.
  if (![401, 403, 429, 501].includes(response.status) || typeof envelope?.code !== "string") {
    return new Refused(unavailable);
  }
  return new Refused({
    status: response.status,
    code: envelope.code,
    message: typeof envelope.message === "string" ? envelope.message : envelope.code,
    requestId: typeof envelope.requestId === "string" ? envelope.requestId : undefined,
    headers: rateLimitHeadersOf(response),
    details: envelope.details,
    nextRoute: envelope.nextRoute,
  });
}

/** A call to Latchkey; no answer at all is Latchkey being unavailable. */
async function reaching<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch {
    throw new Refused(unavailable);
  }
}

/** The claims of a token Latchkey just handed us (over TLS, from the issuer itself). */
function claimsOf(token: string): Claims {
  const payload = token.split(".")[1] ?? "";
  const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return JSON.parse(
    new TextDecoder().decode(Uint8Array.from(binary, (character) => character.charCodeAt(0))),
  );
}

interface Minted {
  token: string;
  claims: Claims;
  /** Epoch seconds. */
  expiresAt: number;
  lifetime: number;
  supabase: SupabaseClient;
}

/** Per Latchkey and project: every handler of an isolate shares its principals' tokens. */
const tokenCaches = new Map<string, TokenCache<Minted>>();

/** Where a key is used from, as verify takes it (a key's network limits). */
interface KeyUse {
  clientAddress?: string;
  origin?: string;
}

/** What verify answered a valid key, and the rate-limit headers it came with. */
interface VerifiedKey {
  data: VerifyAnswer;
  headers: Record<string, string>;
}

type VerifyAnswer = paths["/keys/verify"]["post"]["responses"][200]["content"]["application/json"];

/** Per Latchkey (and cache settings): every handler of an isolate shares keys' answers. */
const keyCaches = new Map<string, { answers: KeyAnswerCache<VerifiedKey>; uses: KeyUses }>();

function stringOrNull(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

const sameScopes = (a: unknown, b: string[]) =>
  Array.isArray(a) && a.length === b.length && [...a].sort().join(" ") === [...b].sort().join(" ");

/**
 * The shared answers and uses of one Latchkey: made with the first handler's client, whose
 * `fetch` then sends the uses of all of them.
 */
function keyCacheFor(
  url: string,
  client: LatchkeyClient,
  settings: Exclude<WithLatchkeyOptions["keyCache"], false> = {},
) {
  const id = JSON.stringify([url, settings.maxEntries, settings.flushSeconds, settings.flushUses]);
  let shared = keyCaches.get(id);
  if (!shared) {
    shared = {
      answers: new KeyAnswerCache<VerifiedKey>(settings.maxEntries),
      uses: new KeyUses(async (uses) => {
        const { data, response } = await client.POST("/keys/cached-uses", { body: { uses } });
        // Kept for the next flush only when Latchkey could not take them now (a 5xx); a 4xx
        // (an older Latchkey without the route) would refuse them again.
        return data !== undefined || response.status < 500;
      }, settings),
    };
    keyCaches.set(id, shared);
  }
  return shared;
}

/**
 * The check `withLatchkey` and the Hono middleware run: the credential verified with Latchkey
 * (an API key with `POST /keys/verify`, a session with `GET /auth/session`, a JWT against its
 * issuer's keys), the required scopes, and the principal's token for the Data API.
 */
export function latchkeyCheck(options: WithLatchkeyOptions): LatchkeyCheck {
  const url = options.url.replace(/\/+$/, "");
  const supabaseUrl = options.supabaseUrl.replace(/\/+$/, "");
  const required = options.scopes ?? [];
  const accept = new Set<CredentialKind>(options.accept ?? ["apiKey", "session", "jwt"]);
  const now = options.now ?? Date.now;
  const refreshBefore = options.refreshBeforeSeconds ?? 60;
  const hops = options.trustedProxyHops ?? ("EdgeRuntime" in globalThis ? 1 : 0);
  const headers = { "user-agent": `with-latchkey/${packageVersion}` };
  const client: LatchkeyClient = createLatchkeyClient({ url, headers, fetch: options.fetch });
  const latchkeyIssuer = `${url}/auth`;
  const supabaseIssuer = `${supabaseUrl}/auth/v1`;
  const verifyJwt = jwtVerifier({
    issuers: [
      { issuer: latchkeyIssuer, jwksUrl: `${latchkeyIssuer}/.well-known/jwks.json` },
      ...(options.jwt?.supabaseAuth
        ? [{ issuer: supabaseIssuer, jwksUrl: `${supabaseIssuer}/.well-known/jwks.json` }]
        : []),
      ...(options.jwt?.issuers ?? []),
    ].map((trusted) =>
      options.jwt?.secret && [latchkeyIssuer, supabaseIssuer].includes(trusted.issuer)
        ? { ...trusted, secret: options.jwt.secret }
        : trusted
    ),
    audience: options.jwt?.audience,
    fetch: options.fetch,
    now,
  });
  // Shared by the handlers that mint the same tokens for the same Data API client.
  const cacheKey = JSON.stringify([url, supabaseUrl, options.supabaseAnonKey ?? null]);
  const tokens = tokenCaches.get(cacheKey) ?? new TokenCache<Minted>();
  tokenCaches.set(cacheKey, tokens);
  const keyCache = options.keyCache === false ? null : keyCacheFor(url, client, options.keyCache);

  function supabaseFor(token: string): SupabaseClient {
    return createSupabaseClient(supabaseUrl, options.supabaseAnonKey ?? token, {
      accessToken: () => Promise.resolve(token),
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    });
  }

  async function mint(credential: Record<string, string>): Promise<Minted> {
    const { data, error, response } = await reaching(
      client.POST("/auth/token", { headers: credential }),
    );
    if (!data) throw passedOn(response, error);
    const claims = claimsOf(data.access_token);
    return {
      token: data.access_token,
      claims,
      expiresAt: claims.exp,
      lifetime: data.expires_in,
      supabase: supabaseFor(data.access_token),
    };
  }

  const isFresh = (minted: Minted) =>
    minted.expiresAt - now() / 1000 > Math.min(refreshBefore, minted.lifetime / 2);

  /** Where the request comes from, for a key's network limits (only what is known is sent). */
  function keyUse(request: Request, connection: ConnectionInfo | undefined): KeyUse {
    const address = clientAddress(request, connection, hops);
    const origin = request.headers.get("origin");
    return {
      ...(address ? { clientAddress: address } : {}),
      ...(origin ? { origin: origin.slice(0, 300) } : {}),
    };
  }

  /** Verify over the network: a valid key's answer (and whether it may be reused), or a refusal. */
  async function verified(key: string, use: KeyUse): Promise<Verified<VerifiedKey>> {
    const { data, error, response } = await reaching(
      client.POST("/keys/verify", { body: { key, ...use } }),
    );
    const limits = rateLimitHeadersOf(response);
    if (response.status === 429) {
      // Verify's 429 carries its fields and the envelope, with Latchkey's request id.
      const requestId = (error as Partial<ErrorEnvelope> | undefined)?.error?.requestId;
      throw new Refused({ ...keyRefusals.RATE_LIMITED, requestId, headers: limits });
    }
    // Only a key too long to be one is refused before the check (400): it is no key of ours.
    if (response.status === 400) throw new Refused({ ...keyRefusals.MALFORMED });
    if (!data) throw passedOn(response, error);
    if (!data.valid || !data.keyId || (!data.userId && !data.orgId)) {
      if (data.keyId) tokens.delete(`api_key:${data.keyId}`);
      const refusal = keyRefusals[data.code] ?? {
        status: 401,
        code: "unauthorized",
        message: `The API key was refused (${data.code}).`,
      };
      throw new Refused({
        ...refusal,
        // What was refused, or which of the client's facts was missing: verify's own words.
        ...(data.code === "NETWORK_NOT_ALLOWED" && data.message ? { message: data.message } : {}),
        requestId: response.headers.get("x-request-id") ?? undefined,
        headers: limits,
      });
    }
    return { value: { data, headers: limits }, cacheSeconds: data.cacheSeconds };
  }

  async function apiKeyPrincipal(key: string, use: KeyUse) {
    let answer: VerifiedKey;
    if (keyCache) {
      // Only a key without network limits is cacheable (latchkey.key_cache_seconds), so a held
      // answer does not depend on where the request came from.
      const { value, cached, hash } = await keyCache.answers.answer(
        key,
        now,
        () => verified(key, use),
      );
      // A use Latchkey did not see: reported with the others in the next batch.
      if (cached) keyCache.uses.record(hash, key, now());
      answer = value;
    } else {
      answer = (await verified(key, use)).value;
    }
    const { data, headers: limits } = answer;
    const keyId = data.keyId!;
    const scopes = data.scopes;
    // The mint is the key used on Latchkey's own route, from this server: the client's Origin
    // goes with it (an origin limit is about browsers; any server can send any Origin), and
    // its address must be one of the key's networks too, for Latchkey reads its own requests'.
    const minted = await tokens.get(
      `api_key:${keyId}`,
      (held) => isFresh(held) && sameScopes(held.claims.scopes, scopes),
      () =>
        mint({ "x-api-key": key, ...(use.origin ? { origin: use.origin } : {}) }).catch(
          (thrown) => {
            if (thrown instanceof Refused && thrown.refusal.code === "network_not_allowed") {
              throw new Refused({
                ...thrown.refusal,
                message: "The key may be used by this client, but Latchkey refused this " +
                  "function's own request for the key's token (" + thrown.refusal.message +
                  "): add this function's outbound address to the key's allowedNetworks.",
              });
            }
            throw thrown;
          },
        ),
    );
    const orgId = data.orgId ?? null;
    const principal: LatchkeyPrincipal = {
      kind: "api_key",
      userId: data.userId,
      keyId,
      sessionId: null,
      scopes,
      role: stringOrNull(minted.claims.app_role),
      orgId,
      claims: minted.claims,
      rateLimit: data.rateLimit,
      metadata: data.metadata,
    };
    return { principal, minted, headers: limits };
  }

  async function sessionPrincipal(token: string) {
    const authorization = { authorization: `Bearer ${token}` };
    const { data, error, response } = await reaching(
      client.GET("/auth/session", { headers: authorization }),
    );
    if (!data || !data.session) throw passedOn(response, error);
    const sessionId = data.session.id;
    const minted = await tokens.get(
      `session:${sessionId}`,
      isFresh,
      () => mint(authorization),
    );
    const principal: LatchkeyPrincipal = {
      kind: "session",
      userId: data.user.id,
      keyId: null,
      sessionId,
      scopes: [],
      role: data.user.role,
      orgId: stringOrNull(minted.claims.org_id),
      claims: minted.claims,
      rateLimit: null,
      metadata: null,
    };
    return { principal, minted, headers: {} };
  }

  async function jwtPrincipal(token: string) {
    const claims = await verifyJwt(token);
    if (!claims) {
      throw new Refused({
        status: 401,
        code: "unauthorized",
        message: "The token is invalid or expired, or its issuer is not trusted here.",
      });
    }
    const keyId = stringOrNull(claims.key_id);
    const orgId = stringOrNull(claims.org_id);
    const principal: LatchkeyPrincipal = {
      kind: "jwt",
      // An organization's key's token names the key as its `sub`: no user.
      userId: orgId !== null && keyId === claims.sub ? null : claims.sub,
      keyId,
      sessionId: stringOrNull(claims.session_id),
      scopes: Array.isArray(claims.scopes)
        ? claims.scopes.filter((scope): scope is string => typeof scope === "string")
        : [],
      role: stringOrNull(claims.app_role),
      orgId,
      claims,
      rateLimit: null,
      metadata: null,
    };
    const minted = { token, supabase: supabaseFor(token) };
    return { principal, minted, headers: {} };
  }

  async function check(
    request: Request,
    connection: ConnectionInfo | undefined,
  ): Promise<LatchkeyOutcome> {
    const credential = presentedCredential(request);
    if (!credential) {
      throw new Refused({ status: 401, code: "unauthorized", message: missingCredential });
    }
    const kind = credentialKind(credential);
    if (!kind || !accept.has(kind)) {
      throw new Refused({
        status: 401,
        code: "unauthorized",
        message: kind
          ? `This takes no ${
            { apiKey: "API key", session: "session token", jwt: "JWT" }[kind]
          }; it takes: ${[...accept].join(", ")}.`
          : "The credential is not an API key, a session token or a JWT.",
      });
    }
    const { principal, minted, headers } = kind === "apiKey"
      ? await apiKeyPrincipal(credential, keyUse(request, connection))
      : kind === "session"
      ? await sessionPrincipal(credential)
      : await jwtPrincipal(credential);
    const missing = principal.keyId === null
      ? []
      : required.filter((scope) => !principal.scopes.includes(scope));
    if (missing.length) {
      throw new Refused({
        status: 403,
        code: "forbidden",
        message: `This needs the API key to hold ${missing.join(", ")}.`,
        headers: {
          ...headers,
          // RFC 6750 §3: which scope was lacking, for clients that read it.
          "www-authenticate": `Bearer realm="latchkey", error="insufficient_scope", scope="${
            required.join(" ")
          }"`,
        },
      });
    }
    return {
      ok: true,
      context: { principal, supabase: minted.supabase, accessToken: minted.token },
      headers,
    };
  }

  return async (request, connection) => {
    try {
      return await check(request, connection);
    } catch (thrown) {
      if (!(thrown instanceof Refused)) throw thrown;
      return { ok: false, response: refusalResponse(thrown.refusal) };
    }
  };
}

/**
 * A handler that runs `handler` only for a request whose credential Latchkey accepts, with the
 * principal and a Data API client scoped to it; Latchkey's refusal (401, 403, 429, with its
 * envelope and rate-limit headers) otherwise. The key's rate-limit headers go on the answer.
 */
export function withLatchkey(
  options: WithLatchkeyOptions,
  handler: LatchkeyHandler,
): (request: Request, connection?: ConnectionInfo) => Promise<Response> {
  const check = latchkeyCheck(options);
  return async (request, connection) => {
    const outcome = await check(request, connection);
    if (!outcome.ok) return outcome.response;
    const response = await handler(request, outcome.context);
    const extra = Object.entries(outcome.headers).filter(([name]) => !response.headers.has(name));
    if (extra.length === 0) return response;
    // A copy: a response's headers may be immutable (one fetched, Response.redirect).
    const answered = new Response(response.body, response);
    for (const [name, value] of extra) answered.headers.set(name, value);
    return answered;
  };
}
