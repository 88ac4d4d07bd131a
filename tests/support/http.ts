import postgres from "postgres";
import { Secret, TOTP } from "otpauth";
import { createLatchkeyClient, type LatchkeyClient } from "../../packages/with-latchkey/client.ts";

function required(name: string): string {
  const value = Deno.env.get(name);
  if (!value) throw new Error(`${name} is not set: run the suite with \`deno task test\`.`);
  return value;
}

/** Root of the gateway under test, e.g. http://127.0.0.1:40123. */
export const baseUrl = required("LATCHKEY_TEST_BASE_URL");
export const functionsUrl = `${baseUrl}/functions/v1`;

export interface CallOptions {
  body?: unknown;
  /** Sent as is (a string body is not JSON-encoded). */
  rawBody?: BodyInit;
  token?: string;
  headers?: Record<string, string | undefined>;
}

export interface CallResult {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any
  body: any;
}

/**
 * A client address of its own (TEST-NET-2/3 ranges). The test server trusts one proxy hop, so
 * `X-Forwarded-For` is the client it sees: tests of per-client throttles name their client,
 * every other request comes from a new one and no test is throttled by another's traffic.
 */
export function testClient(): { "x-forwarded-for": string } {
  const byte = () => Math.floor(Math.random() * 256);
  return { "x-forwarded-for": `198.51.${byte()}.${byte()}` };
}

/**
 * The typed client generated from the OpenAPI document (packages/with-latchkey), on the test
 * gateway: paths, bodies and declared answers are checked when the suite is type-checked. Each
 * request comes from a client address of its own, like `call`'s, unless it names one.
 */
export const latchkey: LatchkeyClient = createLatchkeyClient({
  url: functionsUrl,
  fetch: (request) => {
    if (request.headers.has("x-forwarded-for")) return fetch(request);
    const headers = new Headers(request.headers);
    headers.set("x-forwarded-for", testClient()["x-forwarded-for"]);
    return fetch(new Request(request, { headers }));
  },
});

/** One HTTP request to a function route (`/auth/sign-up/email`), body parsed as JSON. */
export async function call(
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<CallResult> {
  const headers: Record<string, string> = Object.fromEntries(
    Object.entries(options.headers ?? {}).filter((entry): entry is [string, string] =>
      entry[1] !== undefined
    ),
  );
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (!("x-forwarded-for" in (options.headers ?? {}))) Object.assign(headers, testClient());
  let body: BodyInit | undefined = options.rawBody;
  if (options.body !== undefined) {
    headers["content-type"] ??= "application/json";
    body = JSON.stringify(options.body);
  }
  const response = await fetch(`${functionsUrl}${path}`, { method, headers, body });
  const text = await response.text();
  recordSecret(
    ...[...text.matchAll(/"(?:token|key|secret|otpauthUri)":"([^"]+)"/g)].map((match) => match[1]),
    // A TOTP enrolment's first confirmation shows the recovery codes, once.
    ...[...text.matchAll(/"recoveryCodes":\[([^\]]*)\]/g)].flatMap((match) =>
      [...match[1].matchAll(/"([^"]+)"/g)].map((code) => code[1])
    ),
    headers.authorization?.replace(/^Bearer /, ""),
    headers["x-api-key"],
  );
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // Left as text; the assertion that follows will show it.
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

/**
 * Every secret the suite sees (passwords, tokens, keys, TOTP secrets and recovery codes) is
 * recorded, so the runner can check afterwards that none of them reached the server's log.
 * `call` records those in any answer itself.
 */
export function recordSecret(...secrets: (string | null | undefined)[]): void {
  const file = Deno.env.get("LATCHKEY_TEST_SECRETS_FILE");
  const values = secrets.filter((secret): secret is string => !!secret && secret.length >= 10);
  if (file && values.length) {
    Deno.writeTextFileSync(file, values.map((value) => `${value}\n`).join(""), { append: true });
  }
}

let counter = 0;
/** An email no other test uses. */
export function uniqueEmail(tag = "user"): string {
  counter += 1;
  return `${tag}-${Date.now().toString(36)}-${counter}-${
    crypto.randomUUID().slice(0, 8)
  }@example.test`;
}

export const defaultPassword = "correct horse battery staple";

export interface TestAccount {
  id: string;
  email: string;
  password: string;
  token: string;
  sessionId: string;
  /** Support and admin accounts (createAccount): their TOTP factor, enrolled and verified. */
  totp?: { factorId: string; secret: string };
}

/** The code an authenticator app shows for `secret` now (or `offsetSteps` periods away). */
export function totpCode(secret: string, offsetSteps = 0): string {
  const totp = new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30 });
  return totp.generate({ timestamp: Date.now() + offsetSteps * 30_000 });
}

/**
 * Enrols a TOTP factor with the account's session and verifies a first code, which raises that
 * session to aal2 (what LATCHKEY_MFA_REQUIRED_ROLES asks of support and admin sessions). The
 * secret and the recovery codes go to the runner's secrets-in-log check.
 */
export async function enrolTotp(
  account: TestAccount,
  name?: string,
): Promise<{ factorId: string; secret: string; recoveryCodes: string[] }> {
  const enrolled = await call("POST", "/auth/factors/totp", {
    token: account.token,
    body: name ? { name } : {},
  });
  if (enrolled.status !== 201) {
    throw new Error(`TOTP enrolment failed: ${JSON.stringify(enrolled.body)}`);
  }
  recordSecret(enrolled.body.secret, enrolled.body.otpauthUri);
  const verified = await call("POST", `/auth/factors/${enrolled.body.id}/verify`, {
    token: account.token,
    body: { code: totpCode(enrolled.body.secret) },
  });
  if (verified.status !== 200 || verified.body.session.aal !== "aal2") {
    throw new Error(`TOTP verification failed: ${JSON.stringify(verified.body)}`);
  }
  recordSecret(...(verified.body.recoveryCodes ?? []));
  return {
    factorId: enrolled.body.id,
    secret: enrolled.body.secret,
    recoveryCodes: verified.body.recoveryCodes ?? [],
  };
}

/**
 * Signs in to an account with a TOTP factor: the password answers a challenge, and the next
 * code (one step ahead, so it is not the one enrolment spent) completes it; an aal2 session.
 */
export async function signInWithTotp(
  email: string,
  password: string,
  secret: string,
  client?: { "x-forwarded-for": string },
): Promise<CallResult> {
  const challenged = await signIn(email, password, client);
  if (challenged.status !== 200 || !challenged.body.challenge) return challenged;
  const factor = challenged.body.challenge.factors[0];
  return await call("POST", `/auth/factors/${factor.id}/verify`, {
    token: challenged.body.challenge.token,
    body: { code: totpCode(secret, 1) },
    headers: client,
  });
}

/** Signs up a fresh account through the API. */
export async function signUp(tag = "user", password = defaultPassword): Promise<TestAccount> {
  recordSecret(password);
  const email = uniqueEmail(tag);
  const result = await call("POST", "/auth/sign-up/email", {
    body: { name: `Test ${tag}`, email, password },
  });
  if (result.status !== 200) throw new Error(`sign-up failed: ${JSON.stringify(result.body)}`);
  return {
    id: result.body.user.id,
    email,
    password,
    token: result.body.session.token,
    sessionId: result.body.session.id,
  };
}

/** Signs in; `client` names the client (X-Forwarded-For) for tests of per-client throttles. */
export async function signIn(
  email: string,
  password: string,
  client?: { "x-forwarded-for": string },
): Promise<CallResult> {
  return await call("POST", "/auth/sign-in/email", { body: { email, password }, headers: client });
}

/** Direct database access (as the schema owner) to check what the API wrote. */
export async function withDatabase<T>(work: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(required("LATCHKEY_TEST_DATABASE_URL"), {
    max: 1,
    prepare: false,
    onnotice: () => {},
  });
  try {
    return await work(sql);
  } finally {
    await sql.end();
  }
}

/** The key's VALID verifications on record (history and meter, whatever the hour). */
export async function validUses(keyId: string): Promise<number> {
  const [{ valid }] = await withDatabase((sql) =>
    sql<{ valid: number }[]>`
      select coalesce((select sum(valid) from latchkey.api_key_usage where key_id = ${keyId}), 0)
        + coalesce((select valid + case when prev_saved then 0 else prev_valid end
                    from latchkey.api_key_meters where key_id = ${keyId}), 0) as valid`
  );
  return Number(valid);
}

export interface AuditRow {
  action: string;
  actor_kind: string;
  actor_user_id: string | null;
  actor_credential_id: string | null;
  target_id: string | null;
  request_id: string | null;
  metadata: Record<string, unknown>;
}

export function auditEventsFor(requestId: string): Promise<AuditRow[]> {
  return withDatabase((sql) =>
    sql<AuditRow[]>`
      select action, actor_kind, actor_user_id, actor_credential_id, target_id, request_id,
        metadata
      from latchkey.audit_events where request_id = ${requestId} order by created_at`
  );
}

/** Asserts the API.md error envelope and returns its `error`. */
export function errorOf(result: CallResult) {
  const error = result.body?.error;
  if (!error || typeof error.code !== "string" || typeof error.message !== "string") {
    throw new Error(`not an error envelope: ${JSON.stringify(result.body)}`);
  }
  if (error.requestId !== result.headers.get("x-request-id")) {
    throw new Error("the envelope's requestId does not match the x-request-id header");
  }
  return error as {
    code: string;
    message: string;
    details?: { path: string; message: string }[];
    requestId: string;
  };
}

/** Creates an API key with a session token; returns the 201 body (with the secret). */
export async function createKey(
  token: string,
  body: Record<string, unknown> = { name: "test key" },
) {
  const result = await call("POST", "/keys", { token, body });
  if (result.status !== 201) throw new Error(`key creation failed: ${JSON.stringify(result.body)}`);
  return result.body as {
    id: string;
    key: string;
    keyPrefix: string;
    scopes: string[];
    rateLimitPerMinute: number;
    expiresAt: string | null;
  };
}

/**
 * A key for `userId` issued with the X-Admin-Key: for tests that need more than self-service
 * keys may have (a rate limit above the cap). Returns the 201 body, with the secret.
 */
export async function issueKey(userId: string, body: Record<string, unknown>) {
  const result = await asAdminKey("POST", "/admin/keys", {
    body: { userId, keyType: "human", ...body },
  });
  if (result.status !== 201) throw new Error(`key issue failed: ${JSON.stringify(result.body)}`);
  return result.body as { id: string; key: string; keyPrefix: string; scopes: string[] };
}

/** POST /keys/verify with the typed client; a refusal's envelope (429) is the body too. */
export async function verifyKey(key: string, scope?: string): Promise<CallResult> {
  recordSecret(key);
  const { data, error, response } = await latchkey.POST("/keys/verify", {
    body: scope ? { key, scope } : { key },
  });
  return { status: response.status, headers: response.headers, body: data ?? error };
}

/**
 * POST /auth/token with a credential's headers (`x-api-key` or `authorization`), with the typed
 * client: the minted token's answer, or the refusal's envelope.
 */
export async function mintToken(credential: Record<string, string>) {
  recordSecret(...Object.values(credential).map((value) => value.replace(/^Bearer /i, "")));
  const { data, error, response } = await latchkey.POST("/auth/token", { headers: credential });
  recordSecret(data?.access_token);
  return { status: response.status, headers: response.headers, data, error };
}

/**
 * Runs `work` and says how many of the database clock's minutes it touched: 1, or 2 when it
 * crossed a minute's turn. Refusals are audited once a minute of that clock (first_in_minute),
 * so a burst writes one row a minute it touched at most, and the tests expect exactly that
 * rather than wait for a minute's start.
 */
export async function minutesTouched<T>(work: () => Promise<T>): Promise<[T, number]> {
  const minute = () =>
    withDatabase(async (sql) => {
      const [row] = await sql<{ minute: number }[]>`
        select extract(epoch from date_trunc('minute', now()))::bigint / 60 as minute`;
      return Number(row.minute);
    });
  const first = await minute();
  const result = await work();
  return [result, await minute() - first + 1];
}

/** The X-Admin-Key the test server was started with. */
export const adminKey = required("LATCHKEY_TEST_ADMIN_KEY");

/** A request with the static admin key. */
export function asAdminKey(method: string, path: string, options: CallOptions = {}) {
  return call(method, path, {
    ...options,
    headers: { ...options.headers, "x-admin-key": adminKey },
  });
}

/**
 * An account with the given role (made through the admin API), signed in; a support or admin
 * account has a TOTP factor enrolled and verified, and its session is aal2.
 */
export async function createAccount(
  /** A built-in role or one of the team's (it must exist). */
  role: string,
  tag: string = role,
  // LATCHKEY_MFA_REQUIRED_ROLES (admin,support by default): their power needs an aal2 session,
  // so they enrol TOTP unless a test wants the password-only (aal1) session.
  { secondFactor = role !== "user" }: { secondFactor?: boolean } = {},
): Promise<TestAccount> {
  const email = uniqueEmail(tag);
  const created = await asAdminKey("POST", "/admin/users", {
    body: { email, name: `Test ${tag}`, password: defaultPassword, role },
  });
  if (created.status !== 201) throw new Error(`create failed: ${JSON.stringify(created.body)}`);
  const session = await signIn(email, defaultPassword);
  if (session.status !== 200) throw new Error(`sign-in failed: ${JSON.stringify(session.body)}`);
  const account: TestAccount = {
    id: created.body.user.id,
    email,
    password: defaultPassword,
    token: session.body.session.token,
    sessionId: session.body.session.id,
  };
  if (secondFactor) {
    const { factorId, secret } = await enrolTotp(account);
    account.totp = { factorId, secret };
  }
  return account;
}

/** A service account (no password) made with the admin key; returns its id. */
export async function createServiceAccount(tag = "svc"): Promise<string> {
  const created = await asAdminKey("POST", "/admin/users", {
    body: { email: uniqueEmail(tag), name: `Service ${tag}`, serviceAccount: true },
  });
  if (created.status !== 201) throw new Error(`create failed: ${JSON.stringify(created.body)}`);
  return created.body.user.id;
}
