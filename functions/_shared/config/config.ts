import { z } from "zod";
import {
  issuerUrl,
  keyPrefixPattern,
  parseArgon2idPhc,
  supabaseAuthIssuerOf,
  tierSchema,
} from "../ground/fields.ts";
import { adminPermissions, roleNamePattern } from "../ground/principal.ts";
import { inEdgeRuntime } from "../ground/edge_runtime.ts";
import { base64Decode } from "../ground/crypto.ts";
import { isIpAddress } from "../ground/ip_addresses.ts";

const postgresUrl = z.url({
  protocol: /^postgres(ql)?$/,
  error: "expected a postgres:// or postgresql:// URL",
}).describe(
  "PostgreSQL connection URL (postgres://user:password@host:port/database).",
);

const integer = (min: number, max: number) => {
  const expected = `expected a whole number from ${min} to ${max}`;
  return z.coerce.number({ error: expected }).int(expected).min(min, expected).max(max, expected);
};

/** A variable holding JSON, parsed before its schema sees it. */
const jsonText = z.string().transform((text, context) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    context.addIssue({ code: "custom", message: "expected JSON" });
    return z.NEVER;
  }
});

/** A plain-http URL is allowed only to this machine (a local receiver in development). */
function isLoopbackHttp(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" &&
      ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  } catch {
    return false;
  }
}

const base64url = z.string().regex(/^[A-Za-z0-9_-]+$/, "expected base64url");

/** A private ES256 (P-256) signing key as a JWK, with the `kid` tokens name it by. */
const signingKeySchema = z.looseObject({
  kty: z.literal("EC"),
  crv: z.literal("P-256"),
  x: base64url,
  y: base64url,
  d: base64url,
  kid: z.string().regex(
    /^[A-Za-z0-9._:-]{1,128}$/,
    "each key needs a kid of 1-128 [A-Za-z0-9._:-]",
  ),
  alg: z.literal("ES256").optional(),
});

/**
 * Every environment variable Latchkey reads, parsed once at start-up. Descriptions double as
 * the fix printed when a value is wrong.
 */
/** The kinds of notification mail (LATCHKEY_NOTIFY); the mail kinds of the outbox too. */
export const notificationKinds = [
  "password_changed",
  "key_created",
  "mfa_changed",
  "role_changed",
  "account_banned",
  "account_unbanned",
  "key_leaked",
  "org_role_changed",
] as const;
export type NotificationKind = typeof notificationKinds[number];

export const configSchema = z.object({
  LATCHKEY_DB_URL: postgresUrl.optional().describe(
    "Latchkey's own database URL; wins over SUPABASE_DB_URL, which Supabase sets and no secret " +
      "can override (point hosted functions at the transaction pooler, port 6543, with it).",
  ),
  SUPABASE_DB_URL: postgresUrl.optional().describe(
    "Set by Supabase inside edge functions; wins over DATABASE_URL.",
  ),
  DATABASE_URL: postgresUrl.optional().describe(
    "PostgreSQL connection URL. Unset: `deno task start` runs an embedded PGlite under LATCHKEY_DATA_DIR.",
  ),
  LATCHKEY_ENV: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/).default("development").describe(
    "Deployment name reported by /version (lowercase letters, digits, - or _).",
  ),
  LATCHKEY_HOST: z.string().min(1).default("127.0.0.1").describe(
    "Address the local gateway listens on (0.0.0.0 to accept other machines).",
  ),
  LATCHKEY_PORT: integer(1, 65535).default(54321).describe(
    "Port of the local gateway (`deno task start`).",
  ),
  LATCHKEY_DATA_DIR: z.string().min(1).default(".latchkey").describe(
    "Directory of the embedded PGlite database.",
  ),
  LATCHKEY_DB_POOL_MAX: integer(1, 100).optional().describe(
    "Connections per isolate. Unset: 2 in the edge runtime (many isolates share the pooler), " +
      "10 in the local gateway; the embedded PGlite always uses 1.",
  ),
  LATCHKEY_KEY_CHECK_BATCH_MAX: integer(1, 500).default(64).describe(
    "Checks of one key coalesced into one statement while a check of that key runs (1: each " +
      "alone). Each keeps its own answer and exact limits; a batch is one round trip and commit.",
  ),
  LATCHKEY_KEY_CHECK_LANES: integer(1, 100).default(2).describe(
    "Key checks in flight at once per isolate (at most the pool's connections), each a batch " +
      "of waiting checks; the rest of the pool serves other routes. Fewer lanes make bigger " +
      "batches (measured, 64 keys at 64 connections: 2 lanes ~4,200 req/s, 10 lanes ~3,000).",
  ),
  LATCHKEY_DB_CONNECT_TIMEOUT_SECONDS: integer(1, 60).default(2).describe(
    "Seconds to wait for a database connection before answering 503.",
  ),
  LATCHKEY_DB_STATEMENT_TIMEOUT_MS: integer(100, 600_000).default(5000).describe(
    "Statement timeout in milliseconds; a slower query answers 503.",
  ),
  LATCHKEY_DB_CA_CERT: z.string().startsWith(
    "-----BEGIN CERTIFICATE-----",
    "expected a PEM certificate (-----BEGIN CERTIFICATE-----...)",
  ).optional().describe(
    "PEM of the CA that signs the database's certificate (Supabase: the project's CA from the " +
      "dashboard). Set: TLS with the certificate and host name verified, whatever sslmode says.",
  ),
  LATCHKEY_DB_PREPARE: z.enum(["auto", "true", "false"]).default("auto").describe(
    "Prepared statements: auto = on, except through a transaction pooler (port 6543 or " +
      "pgbouncer=true in the URL).",
  ),
  LATCHKEY_SESSION_TTL_HOURS: integer(1, 24 * 365).default(24 * 7).describe(
    "Lifetime of a session token in hours (default 7 days).",
  ),
  LATCHKEY_MAILER: z.string().refine(
    (value) =>
      value === "log" || value === "none" || /^smtps?:\/\/./.test(value) ||
      /^https:\/\/./.test(value) || isLoopbackHttp(value),
    "expected log, none, smtp://…, smtps://…, https://… (http:// only to a loopback address)",
  ).optional().describe(
    "Where account mail goes: log (the server log; the default outside production, refused in " +
      "it), none (recovery routes answer 501; the default in production), smtp(s)://user:pass@" +
      "host:port (in production smtp:// requires STARTTLS), or an https:// webhook receiving " +
      "{to, subject, text, html, kind} signed in X-Latchkey-Signature. Hosted Supabase blocks outbound ports 25 and 587: use 465 or 2587.",
  ),
  LATCHKEY_NOTIFY: z.string().transform((
    text,
  ) => [...new Set(text.split(",").map((kind) => kind.trim()).filter(Boolean))]).pipe(
    z.array(
      z.enum(["all", "none", ...notificationKinds], {
        error: `each one of all, none, ${notificationKinds.join(", ")}`,
      }),
    ),
  ).optional().describe(
    "Notification mail to the account holder, through the mail outbox in the change's own " +
      "transaction: a comma list of " + notificationKinds.join(", ") + ", or all, or none. " +
      "Unset: all when LATCHKEY_MAILER is smtp(s):// or https:// (a real mailer: security " +
      "notices are what a holder needs to hear of a stolen account), none with log or none. " +
      "Sent for the holder's own changes too; only to a verified address, never to a service " +
      "account; never with a secret in it.",
  ),
  LATCHKEY_NOTIFY_MAX_PER_HOUR: integer(1, 1000).default(10).describe(
    "At most this many notification mails of each kind to one account in a clock hour, so " +
      "whoever loops an action that notifies cannot mail-bomb its holder; a flood of one kind " +
      "never holds back another. The rest are not sent but counted: the first held back in an " +
      "hour is audited (mail.notifications_capped) and the next mail of that kind says how " +
      "many were.",
  ),
  LATCHKEY_MAIL_FROM: z.string().min(3).max(320).default("Latchkey <no-reply@latchkey.invalid>")
    .describe("The From of account mail (SMTP)."),
  LATCHKEY_MAILER_TIMEOUT_MS: integer(1000, 120_000).default(15_000).describe(
    "How long one mail's send may take, connection to last answer (SMTP or the webhook " +
      "mailer). A server that stalls past it counts as a failed attempt, retried with backoff; " +
      "without a bound one stalled SMTP session held the isolate's mail sending (and an edge " +
      "isolate's life) for nodemailer's default of ten minutes.",
  ),
  LATCHKEY_MAILER_WEBHOOK_SECRET: z.string().min(32, "use at least 32 characters").max(512)
    .optional().describe(
      "HMAC-SHA256 secret of the webhook mailer's X-Latchkey-Signature (t=<unix>,v1=<hex> over " +
        "`<t>.<body>`); required with an https:// LATCHKEY_MAILER.",
    ),
  LATCHKEY_APP_URL: z.url({ protocol: /^https?$/ }).default("http://localhost:3000").describe(
    "The front end that serves the reset, verify and invitation pages: links are " +
      "<url>/reset-password#token=…, <url>/verify-email#token=… and " +
      "<url>/accept-invitation#token=… (a fragment, so the token stays out of logs).",
  ),
  LATCHKEY_PASSWORD_RESET_TTL_MINUTES: integer(5, 24 * 60).default(30).describe(
    "How long a password-reset link works.",
  ),
  LATCHKEY_EMAIL_VERIFICATION_TTL_HOURS: integer(1, 24 * 30).default(24).describe(
    "How long an email-verification link works.",
  ),
  LATCHKEY_ORG_CREATION: z.enum(["everyone", "admins"]).default("everyone").describe(
    "Who may create an organization (POST /orgs): everyone with a session, or admins only " +
      "(a session whose role holds orgs:write).",
  ),
  LATCHKEY_ORG_INVITATION_TTL_HOURS: integer(1, 24 * 30).default(24 * 7).describe(
    "How long an organization's invitation link works.",
  ),
  LATCHKEY_ORG_INVITATIONS_PER_HOUR: integer(1, 10_000).default(50).describe(
    "Invitations one account may send per hour, over all its organizations (mail to any " +
      "address is what a spammer would want).",
  ),
  LATCHKEY_EMAIL_VERIFICATION_RESENDS_PER_HOUR: integer(1, 100).default(3).describe(
    "Verification mails an account may ask for per hour (POST /auth/email/resend).",
  ),
  LATCHKEY_REQUIRE_EMAIL_VERIFICATION: z.enum(["true", "false"]).default("false")
    .transform((value) => value === "true").describe(
      "true: an account whose address is not verified gets no session and no key: sign-up " +
        "answers without a session, and sign-in with the right password answers 403 " +
        "email_not_verified (a wrong one 401, as for an unknown email).",
    ),
  LATCHKEY_PASSWORD_BREACH_CHECK: z.enum(["off", "warn", "block"]).default("off").describe(
    "Check new passwords against Pwned Passwords' k-anonymity range API (only 5 hex characters " +
      "of the SHA-1 leave the server): block refuses a breached one, warn answers a warning.",
  ),
  LATCHKEY_PASSWORD_BREACH_API_URL: z.url({ protocol: /^https?$/ })
    .default("https://api.pwnedpasswords.com/range/").describe(
      "The range API the breach check asks (<url><first 5 hex of SHA-1>).",
    ),
  LATCHKEY_PASSWORD_RESET_PER_EMAIL_PER_HOUR: integer(1, 100).default(3).describe(
    "Reset mails one address gets per hour from one client (so a stranger cannot spend the " +
      "owner's), and ten times as many from all clients; beyond, forgot still answers 200 and " +
      "sends nothing.",
  ),
  LATCHKEY_RECOVERY_PER_CLIENT_PER_HOUR: integer(1, 100_000).default(30).describe(
    "Forgot and reset requests one client may make per hour (GCRA); beyond, 429 Retry-After.",
  ),
  LATCHKEY_SIGN_IN_MAX_FAILURES: integer(1, 1000).default(10).describe(
    "Failed sign-ins for one email from one client, within the window, before that client " +
      "gets 429 for that email (others' guesses never lock the owner out).",
  ),
  LATCHKEY_SIGN_IN_FAILURES_PER_CLIENT: integer(1, 100_000).default(50).describe(
    "Failed sign-ins one client may make across all emails within the window (GCRA: then one " +
      "per window/this); stops password spraying before any hash is computed.",
  ),
  LATCHKEY_SIGN_IN_FAILURES_PER_EMAIL: integer(1, 100_000).default(100).describe(
    "Failed sign-ins at one email from all clients within the window, a ceiling that slows " +
      "(then one try per window/this) rather than locks.",
  ),
  LATCHKEY_SIGN_UP_PER_CLIENT_PER_HOUR: integer(1, 100_000).default(20).describe(
    "Sign-ups one client may attempt per hour (GCRA), checked before the password is hashed.",
  ),
  LATCHKEY_SIGN_IN_WINDOW_MINUTES: integer(1, 24 * 60).default(15).describe(
    "Window, in minutes, over which failed sign-ins are counted.",
  ),
  LATCHKEY_BODY_LIMIT_BYTES: integer(1024, 10 * 1024 * 1024).default(64 * 1024).describe(
    "Largest accepted request body in bytes; larger bodies answer 413.",
  ),
  LATCHKEY_KEY_PREFIX: z.string().regex(keyPrefixPattern).default("lk").describe(
    "Prefix of new API keys (1-10 lowercase letters or digits, starting with a letter).",
  ),
  LATCHKEY_SCOPES: z.string().default("compile").transform((
    text,
  ) => [...new Set(text.split(",").map((scope) => scope.trim()).filter(Boolean))]).pipe(
    z.array(
      z.string().regex(/^[a-z][a-z0-9_.:-]{0,63}$/).refine(
        (scope) => !(adminPermissions as readonly string[]).includes(scope),
        "must not be an admin permission",
      ),
    ).min(1),
  ).describe(
    "Comma-separated application scopes any user may put on their API keys (e.g. compile,deploy).",
  ),
  LATCHKEY_HASH_QUEUE_MAX: integer(1, 10_000).default(32).describe(
    "Password hashes (about 50 ms each) that may wait per isolate; beyond, sign-up, sign-in and " +
      "password changes answer 503 overloaded with Retry-After.",
  ),
  LATCHKEY_HASH_WORKERS: integer(0, 16).default(() => inEdgeRuntime() ? 0 : 1).describe(
    "Worker threads computing password hashes, one hash each at a time; 0: on the main thread, " +
      "one at a time (the edge runtime's default: it has no workers). One worker keeps the main " +
      "thread free during sign-in bursts (measured, 10 concurrent sign-ins: other requests' p50 " +
      "20-90 ms → 1.6 ms). Each thread hashes in one 19 MiB memory it reuses; under deno task start " +
      "a worker idle for a minute stops.",
  ),
  LATCHKEY_MAX_ACTIVE_KEYS: integer(1, 10_000).default(25).describe(
    "Active (unrevoked, unexpired) keys a user may hold through POST /keys; admin-issued keys " +
      "are not capped.",
  ),
  LATCHKEY_MAX_RATE_LIMIT_PER_MINUTE: integer(1, 1_000_000).default(600).describe(
    "Highest rateLimitPerMinute a user may give their own key (admins may set up to 1,000,000).",
  ),
  LATCHKEY_TIER_LIMITS: jsonText.default({}).pipe(
    z.record(
      tierSchema,
      z.strictObject({
        maxActiveKeys: z.number().int().min(1).max(10_000).optional(),
        maxRateLimitPerMinute: z.number().int().min(1).max(1_000_000).optional(),
      }),
      { error: 'expected {"<tier>": {"maxActiveKeys"?: n, "maxRateLimitPerMinute"?: n}}' },
    ),
  ).describe(
    'Per-tier self-service caps over the two above, as JSON: {"pro": {"maxActiveKeys": 100, ' +
      '"maxRateLimitPerMinute": 6000}}.',
  ),
  LATCHKEY_KEY_CACHE_SECONDS: integer(0, 300).default(0).describe(
    "Seconds a verifier (withLatchkey) may reuse a VALID answer of any key with no rate limit and " +
      "no credits whose own cacheSeconds is unset; 0: off. A change to such a key (revoked, " +
      "disabled, its owner banned) reaches every verifier within that time.",
  ),
  LATCHKEY_LEAK_REPORTS_PER_MINUTE: integer(1, 10_000).default(30).describe(
    "Leaked-key reports (POST /keys/revoke-leaked) one client may make per minute, after a burst " +
      "of as many; beyond, 429 with Retry-After.",
  ),
  LATCHKEY_TRUSTED_PROXY_HOPS: integer(0, 10).default(() => inEdgeRuntime() ? 1 : 0).describe(
    "Proxies in front that append to X-Forwarded-For; the client IP (audit, throttling) is the " +
      "entry that many hops from the right. 0 (the local gateway's default): the connection's " +
      "address, the header ignored. Inside the edge runtime the default is 1: Supabase's gateway.",
  ),
  LATCHKEY_IPV6_CLIENT_PREFIX: integer(32, 128).default(64).describe(
    "Per-client throttles count an IPv6 client by this many leading bits of its address (a /64 " +
      "is what one subscriber gets; 128: each address apart). IPv4 addresses count one by one.",
  ),
  LATCHKEY_ADMIN_KEY_MAX_FAILURES: integer(1, 10_000).default(10).describe(
    "Wrong X-Admin-Key guesses one client may make within the window before it gets 429.",
  ),
  LATCHKEY_ADMIN_KEY_FAILURE_WINDOW_MINUTES: integer(1, 24 * 60).default(15).describe(
    "Window, in minutes, of the X-Admin-Key throttle: after the burst, one guess per " +
      "window/failures.",
  ),
  LATCHKEY_CLIENT_CREDENTIALS_MAX_FAILURES: integer(1, 10_000).default(20).describe(
    "Failed client authentications (POST /auth/token, grant_type=client_credentials: a secret " +
      "that is no key, a key sent with another key's id, a revoked or expired key) one client " +
      "may make within the window; beyond, every token request of that client gets 429.",
  ),
  LATCHKEY_CLIENT_CREDENTIALS_FAILURE_WINDOW_MINUTES: integer(1, 24 * 60).default(15).describe(
    "Window, in minutes, of the client-credentials throttle: after the burst, one failure per " +
      "window/failures.",
  ),
  LATCHKEY_HEADER_TIMEOUT_SECONDS: integer(1, 300).default(10).describe(
    "Local gateway beyond loopback: seconds a connection has to send its request headers.",
  ),
  LATCHKEY_REQUEST_TIMEOUT_SECONDS: integer(1, 3600).default(30).describe(
    "Local gateway beyond loopback: seconds a connection (one request) may last in all.",
  ),
  LATCHKEY_ADMIN_KEY: z.string().min(32, "use at least 32 characters").max(512).optional()
    .describe(
      "Static admin key accepted as X-Admin-Key on admin routes (unset: disabled). Prefer the _SHA256 form.",
    ),
  LATCHKEY_ADMIN_KEY_SHA256: z.string().regex(/^[0-9a-fA-F]{64}$/, "expected 64 hex digits")
    .optional().describe(
      "SHA-256 (hex) of the X-Admin-Key, so the key itself is not in the environment.",
    ),
  LATCHKEY_ADMIN_KEYS: jsonText.pipe(
    z.array(
      z.strictObject({
        name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "each name 1-64 [A-Za-z0-9._-]"),
        sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, "each sha256 64 hex digits"),
        expiresAt: z.iso.datetime({ offset: true }).optional(),
      }),
      { error: 'expected [{"name": "…", "sha256": "<64 hex>", "expiresAt"?: "<ISO time>"}]' },
    ).max(20).refine(
      (entries) => new Set(entries.map((entry) => entry.name)).size === entries.length,
      "each name once",
    ),
  ).optional().describe(
    'More X-Admin-Keys, as JSON: [{"name": "ops-2026-12", "sha256": "<hex>", "expiresAt": ' +
      '"2027-03-01T00:00:00Z"}], accepted beside LATCHKEY_ADMIN_KEY[_SHA256] so a key can be ' +
      "rotated with an overlap; each use is audited with its name; an expired one answers 401.",
  ),
  LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: z.email().optional().describe(
    "Email of the first admin, which the seed creates (and sign-up then refuses).",
  ),
  LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: z.string().min(10, "use at least 10 characters").max(256)
    .optional().describe("Password of the first admin (or give its hash instead)."),
  LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD_HASH: z.string().refine(
    (phc) => parseArgon2idPhc(phc) !== null,
    "expected an argon2id PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash)",
  ).optional().describe(
    "argon2id PHC hash of the first admin's password, so the password is not in the environment.",
  ),
  LATCHKEY_IDENTITY: z.enum(["latchkey", "supabase"]).default("latchkey").describe(
    "Who owns sign-up, sign-in and passwords. supabase: Supabase Auth does, its access tokens " +
      "are sessions here (the user is the auth.users row), and Latchkey's own account routes " +
      "answer 404; keys, admin, audit, bootstrap and tokens work unchanged.",
  ),
  LATCHKEY_SUPABASE_JWT_SECRET: z.string().min(32, "use at least 32 characters").max(512)
    .optional().describe(
      "With LATCHKEY_IDENTITY=supabase, the project's legacy JWT secret, to verify Supabase Auth " +
        "tokens signed HS256 (asymmetric ones are checked against the project's JWKS).",
    ),
  SUPABASE_URL: z.url().optional().describe(
    "Set by Supabase inside edge functions: the project URL (the default token issuer's base).",
  ),
  SUPABASE_ANON_KEY: z.string().min(1).optional().describe(
    "Set by Supabase inside edge functions: the project's public anon key. With " +
      "LATCHKEY_IDENTITY=supabase the console (served by the local gateway) signs in to Supabase " +
      "Auth with it; it is public by design.",
  ),
  LATCHKEY_JWT_SIGNING_KEYS: jsonText.pipe(
    z.object({ keys: z.array(signingKeySchema).min(1) }, {
      error: 'expected a JWK set {"keys": [...]} of P-256 private keys (deno task jwt:keygen)',
    }).transform((set) => set.keys).refine(
      (keys) => new Set(keys.map((key) => key.kid)).size === keys.length,
      "each kid must be unique",
    ),
  ).optional().describe(
    "JWK set of ES256 private keys for POST /auth/token; the first signs, every public half is " +
      "in /auth/.well-known/jwks.json (add the new key first, drop the old one after the TTL).",
  ),
  LATCHKEY_JWT_SECRET: z.string().min(32, "use at least 32 characters").max(512).optional()
    .describe(
      "HS256 secret for POST /auth/token instead of signing keys: the project's legacy JWT secret.",
    ),
  LATCHKEY_JWT_TTL_SECONDS: integer(60, 3600).default(600).describe(
    "Lifetime of an access token from POST /auth/token, in seconds.",
  ),
  LATCHKEY_JWT_ISSUER: z.url().optional().describe(
    "iss of access tokens: the auth function's public URL. Unset: SUPABASE_URL + " +
      "/functions/v1/auth, else the URL the request came to.",
  ),
  LATCHKEY_MFA_ENCRYPTION_KEY: z.string().trim().refine(
    (text) => base64Decode(text)?.length === 32,
    "expected 32 random bytes in base64 (openssl rand -base64 32)",
  ).optional().describe(
    "32 random bytes in base64 (openssl rand -base64 32) that encrypt TOTP secrets and " +
      "webhook signing secrets at rest (AES-256-GCM). Unset outside production: deno task " +
      "start makes one under LATCHKEY_DATA_DIR. Unset in production: the factor routes and " +
      "registering a webhook answer 501. Changing it makes every enrolled TOTP factor and " +
      "every webhook secret unreadable (rotate the webhooks' secrets after a change).",
  ),
  LATCHKEY_MFA_ISSUER: z.string().trim().min(1).max(64).regex(
    /^[^:]+$/,
    "no colon: authenticator apps split the label at it",
  ).default("Latchkey").describe(
    "The issuer authenticator apps show beside a TOTP factor (the otpauth:// URI's issuer).",
  ),
  LATCHKEY_TOTP_FAILURES_PER_DAY: integer(1, 1000).default(5).describe(
    "Wrong TOTP codes one account may get from all clients together per day (GCRA: then one " +
      "per day/this; at most twice this in any 24 hours), beside the sign-in budgets; beyond, " +
      "429 Retry-After, the right code too. Five keeps a day's guesses (three codes right at " +
      "once, of 10^6) at 3e-5. Recovery codes are not held by it.",
  ),
  LATCHKEY_WEBAUTHN_RP_ID: z.string().trim().toLowerCase().regex(
    /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/,
    "expected a host name without scheme or port (example.com)",
  ).optional().describe(
    "The WebAuthn relying party id passkeys are bound to: the site's registrable domain or a " +
      "host under it (example.com serves app.example.com too). Changing it makes every " +
      "registered passkey unusable. Unset in development and test: the host the request came " +
      "to; elsewhere the passkey routes answer 501 (a Host header must not choose it).",
  ),
  LATCHKEY_WEBAUTHN_ORIGINS: z.string().transform((
    text,
  ) => [...new Set(text.split(",").map((origin) => origin.trim()).filter(Boolean))]).pipe(
    z.array(
      z.string().refine(
        (origin) => {
          try {
            const url = new URL(origin);
            return url.origin === origin &&
              (url.protocol === "https:" || isLoopbackHttp(origin));
          } catch {
            return false;
          }
        },
        "each an origin: https://host[:port] (http:// only to a loopback address), no path",
      ),
    ).min(1, "name at least one origin"),
  ).optional().describe(
    "Comma-separated origins whose pages may register and use passkeys (the browser's origin " +
      "in clientDataJSON), each the relying party id or a host under it. Unset: " +
      "https://<LATCHKEY_WEBAUTHN_RP_ID>, or in development and test the request's own origin.",
  ),
  LATCHKEY_STEP_UP_MINUTES: integer(1, 24 * 60).default(10).describe(
    "Dangerous actions (changing a role, setting another account's password, minting or " +
      "enabling an admin-scoped key, deleting a user, exporting the audit log, resetting or removing a " +
      "second factor) need a session that verified a second factor this many minutes ago at " +
      "most (POST /auth/factors/:id/verify); otherwise 403 step_up_required. API keys and " +
      "X-Admin-Key are not asked.",
  ),
  LATCHKEY_MFA_REQUIRED_ROLES: z.string().default("admin,support").transform((
    text,
  ) => [...new Set(text.split(",").map((role) => role.trim()).filter(Boolean))]).pipe(
    z.array(
      z.string().regex(
        roleNamePattern,
        "each a role's name (user, support, admin or one of the team's, as GET /admin/roles " +
          "lists them)",
      ),
    ),
  ).describe(
    "Comma-separated roles whose sessions must verify a second factor (aal2) before they can " +
      "use anything but sign-out, GET /auth/session and the factor routes (403 mfa_required " +
      "naming the route to call); PostgreSQL grants such an aal1 session no permission. Custom " +
      "roles holding one of Latchkey's own permissions need one too, listed or not. Empty: " +
      "none at all. API keys and X-Admin-Key are not sessions and are unaffected. GET " +
      "/admin/warnings names a listed role that does not exist.",
  ),
  LATCHKEY_WEBHOOK_MAX_ATTEMPTS: integer(1, 50).default(12).describe(
    "Attempts to deliver one webhook message before it is marked failed (POST " +
      "/admin/webhooks/deliveries/:id/retry sends it again). Retries back off 10 s · 2^n, at " +
      "most 2 hours apart: the default 12 span about 5 hours.",
  ),
  LATCHKEY_WEBHOOK_TIMEOUT_MS: integer(500, 15_000).default(5000).describe(
    "How long one webhook delivery may take, connection and answer included, before it " +
      "counts as failed.",
  ),
  LATCHKEY_WEBHOOK_BACKLOG_LIMIT: integer(1, 1_000_000).default(10_000).describe(
    "Undelivered messages one webhook endpoint may have waiting; beyond, its oldest are " +
      "dropped (status dropped in its delivery log, re-deliverable by id) and the drop audited " +
      "as webhook.backlog_dropped at most once a minute per endpoint. Trimmed at most every " +
      "second (every 5 s while the isolate serves traffic), so a backlog may run past it by " +
      "what arrives in between.",
  ),
  LATCHKEY_WEBHOOK_BUSY_DELIVERIES_PER_SECOND: integer(1, 10_000).default(25).describe(
    "Webhook attempts one isolate starts per second while it answers 100 or more requests a " +
      "second: requests come first (each attempt costs about as much CPU as several key " +
      "checks), and the backlog drains at full speed when traffic is lighter. Raise it when an " +
      "isolate stays that busy and its endpoints fall behind.",
  ),
  LATCHKEY_WEBHOOK_DELIVERY_RETENTION_DAYS: integer(1, 36_500).default(30).describe(
    "Days delivered, failed and dropped webhook messages stay in the delivery log; older ones " +
      "are deleted in batches of 1,000, at most every 10 minutes per isolate, after a request. " +
      "Messages still pending are kept whatever their age.",
  ),
  LATCHKEY_WEBHOOK_ALLOW_ADDRESSES: z.string().transform((
    text,
  ) => [...new Set(text.split(",").map((address) => address.trim()).filter(Boolean))]).pipe(
    z.array(
      z.string().refine(
        (address) => isIpAddress(address),
        "each an IP address (127.0.0.1, ::1), no names, no ranges",
      ),
    ).max(10),
  ).default([]).describe(
    "Tests and development only (refused in production): IP addresses webhook deliveries may " +
      "reach although they are loopback or private, e.g. 127.0.0.1 for a receiver on this " +
      "machine. Every other loopback, private, link-local, CGNAT, metadata or unspecified " +
      "address stays refused.",
  ),
  LATCHKEY_AUDIT_EXPORTS_MAX: integer(1, 100).default(1).describe(
    "Audit exports (GET /admin/audit/export) one isolate runs at once, each holding a database " +
      "connection while its client reads; beyond, 429. One caller runs one export at a time.",
  ),
  LATCHKEY_AUDIT_EXPORT_IDLE_SECONDS: integer(1, 3600).default(30).describe(
    "An audit export whose client reads nothing for this long is ended (its connection freed).",
  ),
  LATCHKEY_AUDIT_EXPORT_MAX_SECONDS: integer(10, 86_400).default(900).describe(
    "Longest an audit export may run; it ends there, without a last newline.",
  ),
  LATCHKEY_AUDIT_RETENTION_DAYS: integer(1, 36_500).optional().describe(
    "Days audit events are kept; older ones are deleted in batches of 1,000, at most every 10 " +
      "minutes per isolate, after a request (each deletion audited as audit.pruned). Unset: kept " +
      "forever.",
  ),
  LATCHKEY_CORS_ORIGINS: z.string().default("").transform((
    text,
  ) => [...new Set(text.split(",").map((origin) => origin.trim()).filter(Boolean))]).pipe(
    z.array(
      z.string().regex(
        /^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$/i,
        "each origin is scheme://host[:port], no path, no *",
      ),
    ),
  ).describe(
    "Comma-separated browser origins allowed to call the API with credentials (empty: none).",
  ),
  LATCHKEY_LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"])
    .default(() => inEdgeRuntime() ? "warn" : "info")
    .describe(
      "Lowest log level written (one line per request at info). Default info, but warn inside " +
        "the edge runtime: hosted keeps about 100 lines per 10 s, and request lines would push " +
        "out the warnings and errors.",
    ),
  LATCHKEY_LOG_FORMAT: z.enum(["auto", "json", "pretty"]).default("auto").describe(
    "Log lines as JSON, or short and readable; auto: pretty in a terminal, JSON otherwise.",
  ),
});

export type Config = z.infer<typeof configSchema>;

/** LATCHKEY_ENV names of a machine of one's own, where the request's Host may name the issuer. */
const localEnvironments = new Set(["development", "test"]);

/** Development or test: a machine of one's own, where the request's Host may stand in. */
export function isLocalEnvironment(config: Pick<Config, "LATCHKEY_ENV">): boolean {
  return localEnvironments.has(config.LATCHKEY_ENV);
}

// Cross-field rules, kept apart so configSchema.shape stays a plain field list.
const configRules = configSchema.superRefine((config, context) => {
  if (config.LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD && config.LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD_HASH) {
    context.addIssue({
      code: "custom",
      path: ["LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD_HASH"],
      message: "set LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD or its _HASH, not both",
    });
  }
  if (config.LATCHKEY_JWT_SIGNING_KEYS && config.LATCHKEY_JWT_SECRET) {
    context.addIssue({
      code: "custom",
      path: ["LATCHKEY_JWT_SECRET"],
      message: "set LATCHKEY_JWT_SIGNING_KEYS or LATCHKEY_JWT_SECRET, not both: tokens are " +
        "signed one way, the way your Data API trusts",
    });
  }
  if (config.LATCHKEY_IDENTITY === "supabase" && !config.SUPABASE_URL) {
    context.addIssue({
      code: "custom",
      path: ["LATCHKEY_IDENTITY"],
      message: "supabase needs SUPABASE_URL (set inside Supabase's functions; set it locally to " +
        "the project URL): Supabase Auth's issuer and keys are found from it",
    });
  }
  if (config.LATCHKEY_IDENTITY === "supabase" && config.LATCHKEY_JWT_SECRET) {
    context.addIssue({
      code: "custom",
      path: ["LATCHKEY_JWT_SECRET"],
      message: "with LATCHKEY_IDENTITY=supabase a token's sub is a Supabase Auth user, and an " +
        "HS256 secret PostgREST accepts is the project's, which Supabase Auth accepts too: a " +
        "key's token would be a Supabase Auth session. Sign with LATCHKEY_JWT_SIGNING_KEYS and " +
        "register Latchkey as a third-party (custom OIDC) issuer",
    });
  }
  if (
    config.SUPABASE_URL && config.LATCHKEY_JWT_ISSUER &&
    issuerUrl(config.LATCHKEY_JWT_ISSUER) === supabaseAuthIssuerOf(config.SUPABASE_URL)
  ) {
    context.addIssue({
      code: "custom",
      path: ["LATCHKEY_JWT_ISSUER"],
      message: "this is Supabase Auth's issuer: Latchkey's tokens must never pass for Supabase " +
        "Auth's; use the auth function's URL (the default)",
    });
  }
  const signs = Boolean(config.LATCHKEY_JWT_SIGNING_KEYS || config.LATCHKEY_JWT_SECRET);
  if (
    signs && !localEnvironments.has(config.LATCHKEY_ENV) && !config.LATCHKEY_JWT_ISSUER &&
    !config.SUPABASE_URL
  ) {
    context.addIssue({
      code: "custom",
      path: ["LATCHKEY_JWT_ISSUER"],
      message: `outside ${[...localEnvironments].join(" and ")} a signing deployment needs a ` +
        "fixed issuer (else tokens and the OpenID configuration would name whatever Host a " +
        "request sent): set it, or SUPABASE_URL",
    });
  }
  if (config.LATCHKEY_MAILER === "log" && config.LATCHKEY_ENV === "production") {
    context.addIssue({
      code: "custom",
      path: ["LATCHKEY_MAILER"],
      message: "log prints reset links in the server log; in production use smtp(s):// or an " +
        "https:// webhook (or none)",
    });
  }
  if (
    config.LATCHKEY_ENV === "production" && config.LATCHKEY_MAILER?.startsWith("smtp://") &&
    /[?&](ignoreTLS|requireTLS|opportunisticTLS|secure)=/i.test(config.LATCHKEY_MAILER)
  ) {
    context.addIssue({
      code: "custom",
      path: ["LATCHKEY_MAILER"],
      message: "in production smtp:// always requires STARTTLS (or use smtps://): drop the URL's " +
        "TLS parameters",
    });
  }
  if (config.LATCHKEY_MAILER?.startsWith("http") && !config.LATCHKEY_MAILER_WEBHOOK_SECRET) {
    context.addIssue({
      code: "custom",
      path: ["LATCHKEY_MAILER_WEBHOOK_SECRET"],
      message: "a webhook mailer needs LATCHKEY_MAILER_WEBHOOK_SECRET to sign its deliveries",
    });
  }
  if (config.LATCHKEY_WEBAUTHN_ORIGINS && !config.LATCHKEY_WEBAUTHN_RP_ID) {
    context.addIssue({
      code: "custom",
      path: ["LATCHKEY_WEBAUTHN_RP_ID"],
      message: "LATCHKEY_WEBAUTHN_ORIGINS needs LATCHKEY_WEBAUTHN_RP_ID: the domain passkeys " +
        "are bound to",
    });
  }
  const rpId = config.LATCHKEY_WEBAUTHN_RP_ID;
  for (const origin of config.LATCHKEY_WEBAUTHN_ORIGINS ?? []) {
    const host = new URL(origin).hostname;
    if (rpId && host !== rpId && !host.endsWith(`.${rpId}`)) {
      context.addIssue({
        code: "custom",
        path: ["LATCHKEY_WEBAUTHN_ORIGINS"],
        message: `${origin} is not ${rpId} or a host under it: browsers would refuse passkeys ` +
          "of that relying party there",
      });
    }
  }
  if (config.LATCHKEY_ENV === "production" && config.LATCHKEY_WEBHOOK_ALLOW_ADDRESSES.length) {
    context.addIssue({
      code: "custom",
      path: ["LATCHKEY_WEBHOOK_ALLOW_ADDRESSES"],
      message: "not in production: webhooks must never reach this machine's or the network's " +
        "private addresses there",
    });
  }
  if (config.LATCHKEY_ADMIN_KEY && config.LATCHKEY_ADMIN_KEY_SHA256) {
    context.addIssue({
      code: "custom",
      path: ["LATCHKEY_ADMIN_KEY_SHA256"],
      message: "set LATCHKEY_ADMIN_KEY or LATCHKEY_ADMIN_KEY_SHA256, not both",
    });
  }
});

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join("; ")}`);
    this.name = "ConfigError";
  }
}

/**
 * Variables whose empty value means something of its own rather than "unset" (every other one):
 * LATCHKEY_MFA_REQUIRED_ROLES set to nothing is no role, where unset is admin,support.
 */
const emptyIsAValue = new Set(["LATCHKEY_MFA_REQUIRED_ROLES"]);

/** Parses the environment; throws ConfigError naming each bad variable and how to fix it. */
export function loadConfig(env: Record<string, string | undefined> = Deno.env.toObject()): Config {
  const present = Object.fromEntries(
    Object.entries(env).filter(([name, value]) =>
      value !== undefined && (value !== "" || emptyIsAValue.has(name))
    ),
  );
  const parsed = configRules.safeParse(present);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const name = String(issue.path[0]);
    const field = configSchema.shape[name as keyof typeof configSchema.shape];
    return `${name}: ${issue.message}. ${field?.description ?? ""}`.trim();
  });
  throw new ConfigError(problems);
}

/** The notification kinds in effect: LATCHKEY_NOTIFY, its default, and none without a mailer. */
export function enabledNotifications(config: Config): NotificationKind[] {
  const target = mailerTarget(config);
  if (target === "none") return [];
  const wanted = config.LATCHKEY_NOTIFY ?? (target === "log" ? ["none"] : ["all"]);
  if (wanted.includes("none")) return [];
  if (wanted.includes("all")) return [...notificationKinds];
  return notificationKinds.filter((kind) => wanted.includes(kind));
}

/** The mailer in effect: LATCHKEY_MAILER, else log outside production and none in it. */
export function mailerTarget(config: Config): string {
  return config.LATCHKEY_MAILER ?? (config.LATCHKEY_ENV === "production" ? "none" : "log");
}

/** The database URL the functions use, if any: ours, then Supabase's, then the generic one. */
export function databaseUrl(config: Config): string | undefined {
  return config.LATCHKEY_DB_URL ?? config.SUPABASE_DB_URL ?? config.DATABASE_URL;
}
