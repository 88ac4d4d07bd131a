import { createLocalJWKSet, importJWK, type JWK, jwtVerify, SignJWT } from "jose";
import { Secret, TOTP } from "otpauth";
import { renderSVG } from "uqr";
import postgres from "postgres";
import { newSigningKey } from "../../functions/_local/jwt_keygen.ts";
import { recordSecret, uniqueEmail } from "./http.ts";
import { type InProcessFunctions, serveFunctions } from "./in_process.ts";

/** As Supabase Auth (GoTrue) connects: the owner of schema auth. */
export async function asSupabaseAuth<T>(work: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const url = new URL(Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!);
  url.username = "supabase_auth_admin";
  const sql = postgres(url.toString(), { max: 1, prepare: false, onnotice: () => {} });
  try {
    return await work(sql);
  } finally {
    await sql.end();
  }
}

export interface AuthUser {
  id: string;
  email: string | null;
}

export async function createAuthUser(
  options: { email?: string | null; confirmed?: boolean; anonymous?: boolean } = {},
): Promise<AuthUser> {
  const id = crypto.randomUUID();
  const email = options.email === undefined ? uniqueEmail("supabase") : options.email;
  await asSupabaseAuth((sql) =>
    sql`
      insert into auth.users (id, aud, role, email, email_confirmed_at, raw_user_meta_data,
        is_anonymous, created_at, updated_at)
      values (${id}, 'authenticated', 'authenticated', ${email},
        ${options.confirmed === false ? null : new Date()}, ${sql.json({ full_name: "Sam Base" })},
        ${options.anonymous ?? false}, now(), now())`
  );
  return { id, email };
}

/**
 * A second factor written as Supabase Auth writes one into `auth.mfa_factors` (as
 * supabase_auth_admin): `verified` once its first code was right. Returns its id.
 */
export async function createAuthFactor(
  user: AuthUser,
  options: { type?: "totp" | "phone" | "webauthn"; status?: "unverified" | "verified" } = {},
): Promise<string> {
  const id = crypto.randomUUID();
  const type = options.type ?? "totp";
  const secret = type === "totp" ? new Secret({ size: 20 }).base32 : null;
  if (secret) recordSecret(secret);
  await asSupabaseAuth((sql) =>
    sql`
      insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at,
        updated_at, secret, phone)
      values (${id}, ${user.id}, ${`${type} ${id.slice(0, 8)}`}, ${type},
        ${options.status ?? "verified"}, clock_timestamp(), clock_timestamp(),
        ${secret}, ${type === "phone" ? "+15555550100" : null})`
  );
  return id;
}

/** Supabase Auth removes a factor (unenrolled, or reset by the project's admin). */
export async function deleteAuthFactor(id: string): Promise<void> {
  await asSupabaseAuth((sql) => sql`delete from auth.mfa_factors where id = ${id}`);
}

/** A factor as Supabase Auth keeps it (`auth.mfa_factors`); only TOTP is enabled, as hosted. */
interface Factor {
  id: string;
  userId: string;
  friendlyName: string;
  secret: string;
  status: "unverified" | "verified";
  createdAt: Date;
  updatedAt: Date;
}

/** A session of Supabase Auth (`auth.sessions` with its `auth.mfa_amr_claims`). */
interface AuthSession {
  id: string;
  user: AuthUser;
  aal: "aal1" | "aal2";
  factorId: string | null;
  /** Method → when it was last verified (epoch seconds), as `mfa_amr_claims.updated_at`. */
  claims: Map<string, number>;
}

/** Supabase Auth's defaults (supabase/auth, internal/conf/configuration.go). */
const factorExpirySeconds = 300;
const challengeExpirySeconds = 300;
const maxEnrolledFactors = 10;
const uuidShape = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Supabase Auth's error envelope (apierrors.HTTPError): `{code, error_code, msg}`. */
class AuthError extends Error {
  constructor(readonly status: number, readonly errorCode: string, message: string) {
    super(message);
  }
}

/**
 * Supabase Auth's project, as far as Latchkey and its console see it: the JWKS endpoint, with
 * keys that can be rotated in; the password grant (`POST /auth/v1/token?grant_type=password`)
 * for the people given a password with `withPassword`; `GET /auth/v1/user`; and the MFA API
 * supabase-js's `auth.mfa` calls (`POST /auth/v1/factors`, `.../{id}/challenge`,
 * `.../{id}/verify`, `DELETE .../{id}`) for TOTP, checked for real (RFC 6238, SHA-1, six
 * digits, 30 s, one step either side), answering browsers from any origin as Supabase does.
 *
 * It follows supabase/auth's `internal/api/mfa.go`, `auth.go` and `models/sessions.go`: the
 * gateway asks every request for the project's `apikey`; a factor route needs an access
 * token whose session exists; enrolling another factor next to a verified one needs an aal2
 * session (403 `insufficient_aal`); a challenge expires after 300 s, is bound to the IP that
 * asked for it and is spent by its first right code; a verification records `totp` on the
 * session (its timestamp moved on when verified again), raises it to aal2, ends the user's
 * other aal1 sessions and answers with a new access token for the same session, its `amr`
 * most recent first. The enrolment's `qr_code` is bare SVG (supabase-js turns it into a
 * `data:` URL).
 */
export async function supabaseProject({ anonKey = "" } = {}) {
  const keys: (JWK & { kid: string })[] = [await newSigningKey()];
  const passwords = new Map<string, { user: AuthUser; password: string }>();
  const sessions = new Map<string, AuthSession>();
  const factors = new Map<string, Factor>();
  const challenges = new Map<
    string,
    { factorId: string; createdAt: number; ip: string; verified: boolean }
  >();
  let fetches = 0;
  const cors = {
    "access-control-allow-origin": "*",
    "access-control-allow-headers": "apikey, authorization, content-type, x-client-info, " +
      "x-supabase-api-version",
    "access-control-allow-methods": "POST, GET, PUT, DELETE, OPTIONS",
  };
  const publicKeys = () => ({
    keys: keys.map(({ kty, crv, x, y, kid }) => ({ kty, crv, x, y, kid, alg: "ES256" })),
  });
  const answer = (body: unknown, status = 200) => Response.json(body, { status, headers: cors });
  const nowSeconds = () => Math.floor(Date.now() / 1000);
  // The handler signs with token() below; requests arrive only once the object exists.
  let sign: (user: AuthUser, overrides: Record<string, unknown>) => Promise<string> = () =>
    Promise.reject();

  /** An access token of `session` as it stands, and the rest of the token response. */
  async function tokenResponse(session: AuthSession) {
    const amr = [...session.claims].map(([method, timestamp]) => ({ method, timestamp }))
      .sort((a, b) => b.timestamp - a.timestamp);
    const accessToken = await sign(session.user, {
      session_id: session.id,
      aal: session.aal,
      amr,
    });
    return {
      access_token: accessToken,
      token_type: "bearer",
      expires_in: 3600,
      expires_at: nowSeconds() + 3600,
      refresh_token: crypto.randomUUID(),
      user: userJson(session.user),
    };
  }

  function userFactors(userId: string): Factor[] {
    return [...factors.values()].filter((factor) => factor.userId === userId);
  }

  function factorJson(factor: Factor) {
    return {
      id: factor.id,
      friendly_name: factor.friendlyName,
      factor_type: "totp",
      status: factor.status,
      created_at: factor.createdAt.toISOString(),
      updated_at: factor.updatedAt.toISOString(),
    };
  }

  function userJson(user: AuthUser) {
    const owned = userFactors(user.id);
    return {
      id: user.id,
      aud: "authenticated",
      role: "authenticated",
      email: user.email ?? "",
      app_metadata: { provider: "email", providers: ["email"] },
      user_metadata: {},
      is_anonymous: false,
      // `factors,omitempty` in models.User.
      ...(owned.length ? { factors: owned.map(factorJson) } : {}),
    };
  }

  /** requireAuthentication: a Bearer access token of ours whose session still exists. */
  async function authenticated(request: Request): Promise<AuthSession> {
    const bearer = /^Bearer (\S+)$/i.exec(request.headers.get("authorization") ?? "")?.[1];
    if (!bearer) {
      throw new AuthError(401, "no_authorization", "This endpoint requires a valid Bearer token");
    }
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(bearer, createLocalJWKSet(publicKeys())));
    } catch (cause) {
      throw new AuthError(
        403,
        "bad_jwt",
        `invalid JWT: unable to parse or verify signature, ${cause}`,
      );
    }
    const session = sessions.get(String(claims.session_id));
    if (!session || session.user.id !== claims.sub) {
      throw new AuthError(
        403,
        "session_not_found",
        "Session from session_id claim in JWT does not exist",
      );
    }
    return session;
  }

  /** loadFactor: one of the session user's factors. */
  function ownedFactor(session: AuthSession, id: string): Factor {
    if (!uuidShape.test(id)) {
      throw new AuthError(404, "validation_failed", "factor_id must be an UUID");
    }
    const factor = factors.get(id.toLowerCase());
    if (!factor || factor.userId !== session.user.id) {
      throw new AuthError(404, "mfa_factor_not_found", "Factor not found");
    }
    return factor;
  }

  function enrol(session: AuthSession, body: Record<string, unknown>) {
    if (body.factor_type === "phone" || body.factor_type === "webauthn") {
      // Off unless a project turns them on; only TOTP is on by default.
      throw new AuthError(
        422,
        `mfa_${body.factor_type}_enroll_not_enabled`,
        `MFA enroll is disabled for ${body.factor_type === "phone" ? "Phone" : "WebAuthn"}`,
      );
    }
    if (body.factor_type !== "totp") {
      throw new AuthError(
        400,
        "validation_failed",
        "factor_type needs to be totp, phone, or webauthn",
      );
    }
    const friendlyName = typeof body.friendly_name === "string" ? body.friendly_name : "";
    // validateFactors: expired unverified factors go first.
    for (const factor of factors.values()) {
      if (
        factor.status === "unverified" &&
        factor.createdAt.getTime() < Date.now() - factorExpirySeconds * 1000
      ) factors.delete(factor.id);
    }
    const owned = userFactors(session.user.id);
    if (owned.some((factor) => factor.friendlyName === friendlyName)) {
      throw new AuthError(
        422,
        "mfa_factor_name_conflict",
        `A factor with the friendly name "${friendlyName}" for this user already exists`,
      );
    }
    if (owned.length >= maxEnrolledFactors) {
      throw new AuthError(
        422,
        "too_many_enrolled_mfa_factors",
        "Maximum number of verified factors reached, unenroll to continue",
      );
    }
    if (owned.some((factor) => factor.status === "verified") && session.aal !== "aal2") {
      throw new AuthError(403, "insufficient_aal", "AAL2 required to enroll a new factor");
    }
    const secret = new Secret({ size: 20 }).base32;
    const uri = new TOTP({
      issuer: typeof body.issuer === "string" && body.issuer ? body.issuer : new URL(url).host,
      label: session.user.email ?? "",
      secret,
      algorithm: "SHA1",
      digits: 6,
      period: 30,
    }).toString();
    const factor: Factor = {
      id: crypto.randomUUID(),
      userId: session.user.id,
      friendlyName,
      secret,
      status: "unverified",
      createdAt: new Date(),
      updatedAt: new Date(),
    };
    factors.set(factor.id, factor);
    recordSecret(secret, uri);
    return {
      id: factor.id,
      type: "totp",
      friendly_name: friendlyName,
      totp: { qr_code: renderSVG(uri), secret, uri },
    };
  }

  async function verify(
    session: AuthSession,
    factor: Factor,
    body: Record<string, unknown>,
    ip: string,
  ) {
    const code = typeof body.code === "string" ? body.code : "";
    if (code === "") throw new AuthError(400, "validation_failed", "Code needs to be non-empty");
    const challengeId = String(body.challenge_id ?? "").toLowerCase();
    const challenge = challenges.get(challengeId);
    if (!challenge || challenge.factorId !== factor.id) {
      throw new AuthError(
        422,
        "mfa_factor_not_found",
        "MFA factor with the provided challenge ID not found",
      );
    }
    if (challenge.verified || challenge.ip !== ip) {
      throw new AuthError(
        422,
        "mfa_ip_address_mismatch",
        "Challenge and verify IP addresses mismatch.",
      );
    }
    if (challenge.createdAt < Date.now() - challengeExpirySeconds * 1000) {
      challenges.delete(challengeId);
      throw new AuthError(
        422,
        "mfa_challenge_expired",
        `MFA challenge ${challengeId} has expired, verify against another challenge or create a new challenge.`,
      );
    }
    const totp = new TOTP({ secret: Secret.fromBase32(factor.secret), digits: 6, period: 30 });
    if (totp.validate({ token: code, window: 1 }) === null) {
      throw new AuthError(422, "mfa_verification_failed", "Invalid TOTP code entered");
    }
    challenge.verified = true;
    factor.status = "verified";
    factor.updatedAt = new Date();
    session.claims.set("totp", nowSeconds());
    session.aal = "aal2";
    session.factorId = factor.id;
    // InvalidateSessionsWithAALLessThan and DeleteUnverifiedFactors.
    for (const other of sessions.values()) {
      if (other.user.id === session.user.id && other.aal === "aal1") sessions.delete(other.id);
    }
    for (const other of userFactors(session.user.id)) {
      if (other.status === "unverified") factors.delete(other.id);
    }
    return await tokenResponse(session);
  }

  async function route(request: Request, ip: string): Promise<Response> {
    const { pathname, searchParams } = new URL(request.url);
    // The API gateway in front of Supabase Auth wants the project's key on every call.
    if (request.headers.get("apikey") !== anonKey) {
      throw new AuthError(401, "no_api_key", "Invalid API key");
    }
    const body = ["POST", "PUT"].includes(request.method)
      ? await request.json().catch(() => ({}))
      : {};
    if (pathname === "/auth/v1/token" && request.method === "POST") {
      if (searchParams.get("grant_type") !== "password") {
        throw new AuthError(400, "validation_failed", "unsupported_grant_type");
      }
      const known = passwords.get(String(body.email ?? "").toLowerCase());
      if (!known || known.password !== body.password) {
        throw new AuthError(400, "invalid_credentials", "Invalid login credentials");
      }
      const session: AuthSession = {
        id: crypto.randomUUID(),
        user: known.user,
        aal: "aal1",
        factorId: null,
        claims: new Map([["password", nowSeconds()]]),
      };
      sessions.set(session.id, session);
      return answer(await tokenResponse(session));
    }
    const session = await authenticated(request);
    if (pathname === "/auth/v1/user" && request.method === "GET") {
      return answer(userJson(session.user));
    }
    if (session.user.email === null) {
      throw new AuthError(
        403,
        "no_authorization",
        "Anonymous user not allowed to perform these actions",
      );
    }
    if (pathname === "/auth/v1/factors" && request.method === "POST") {
      return answer(enrol(session, body));
    }
    const [, factorId, action] = /^\/auth\/v1\/factors\/([^/]+)(?:\/(challenge|verify))?\/?$/
      .exec(pathname) ?? [];
    if (!factorId) throw new AuthError(404, "not_found", "Not found");
    const factor = ownedFactor(session, factorId);
    if (action === "challenge" && request.method === "POST") {
      const id = crypto.randomUUID();
      const createdAt = Date.now();
      challenges.set(id, { factorId: factor.id, createdAt, ip, verified: false });
      return answer({
        id,
        type: "totp",
        expires_at: Math.floor(createdAt / 1000) + challengeExpirySeconds,
      });
    }
    if (action === "verify" && request.method === "POST") {
      return answer(await verify(session, factor, body, ip));
    }
    if (action === undefined && request.method === "DELETE") {
      if (factor.status === "verified" && session.aal !== "aal2") {
        throw new AuthError(422, "insufficient_aal", "AAL2 required to unenroll verified factor");
      }
      factors.delete(factor.id);
      // DowngradeSessionsToAAL1: the sessions this factor raised.
      for (const raised of sessions.values()) {
        if (raised.factorId === factor.id) {
          raised.aal = "aal1";
          raised.factorId = null;
          raised.claims.delete("totp");
        }
      }
      return answer({ id: factor.id });
    }
    throw new AuthError(405, "method_not_allowed", "Method not allowed");
  }

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request, info) => {
      const { pathname } = new URL(request.url);
      if (pathname === "/auth/v1/.well-known/jwks.json") {
        fetches += 1;
        return Response.json(publicKeys());
      }
      if (!pathname.startsWith("/auth/v1/")) return new Response("not found", { status: 404 });
      if (request.method === "OPTIONS") return new Response(null, { status: 204, headers: cors });
      try {
        return await route(request, info.remoteAddr.hostname);
      } catch (error) {
        if (!(error instanceof AuthError)) throw error;
        return answer(
          { code: error.status, error_code: error.errorCode, msg: error.message },
          error.status,
        );
      }
    },
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const project = {
    url,
    keys,
    fetches: () => fetches,
    /** Lets `user` sign in with `password` through the password grant. */
    withPassword(user: AuthUser, password: string) {
      passwords.set(user.email!.toLowerCase(), { user, password });
    },
    /**
     * Moves the second factors verified in `user`'s sessions `minutes` into the past (their
     * `mfa_amr_claims.updated_at`), as if that long had passed since; returns the access token
     * a refresh of the latest session would give then. No test waits out a step-up window.
     */
    async ageSecondFactor(user: AuthUser, minutes: number): Promise<string> {
      const owned = [...sessions.values()].filter((session) => session.user.id === user.id);
      if (owned.length === 0) throw new Error("no Supabase Auth session of that user");
      for (const session of owned) {
        for (const [method, timestamp] of session.claims) {
          if (method !== "password") session.claims.set(method, timestamp - minutes * 60);
        }
      }
      return (await tokenResponse(owned.at(-1)!)).access_token;
    },
    /** An access token as Supabase Auth issues one; `overrides` bends it for the attacks. */
    async token(
      user: AuthUser,
      overrides: Record<string, unknown> = {},
      signWith: { key?: JWK & { kid: string }; secret?: string } = {},
    ) {
      const now = Math.floor(Date.now() / 1000);
      const claims = {
        iss: `${url}/auth/v1`,
        aud: "authenticated",
        sub: user.id,
        role: "authenticated",
        email: user.email ?? "",
        session_id: crypto.randomUUID(),
        is_anonymous: false,
        aal: "aal1",
        amr: [{ method: "password", timestamp: now }],
        iat: now,
        exp: now + 3600,
        ...overrides,
      };
      const jwt = new SignJWT(claims);
      let token: string;
      if (signWith.secret) {
        token = await jwt.setProtectedHeader({ alg: "HS256", typ: "JWT" })
          .sign(new TextEncoder().encode(signWith.secret));
      } else {
        const key = signWith.key ?? keys[0];
        token = await jwt.setProtectedHeader({ alg: "ES256", typ: "JWT", kid: key.kid })
          .sign(await importJWK(key, "ES256"));
      }
      recordSecret(token);
      return token;
    },
    close: () => server.shutdown(),
  };
  sign = (user, overrides) => project.token(user, overrides);
  return project;
}

export type SupabaseProject = Awaited<ReturnType<typeof supabaseProject>>;

/**
 * The functions in this process with LATCHKEY_IDENTITY=supabase against a Supabase project of
 * the test's (`project.keys` may be changed before the first token is verified), signing with a
 * key of Latchkey's own that Supabase Auth does not hold; both closed afterwards.
 */
export async function withSupabaseIdentity(
  work: (served: InProcessFunctions, project: SupabaseProject) => Promise<void>,
  env: Record<string, string> = {},
  prepare: (project: SupabaseProject) => void = () => {},
): Promise<void> {
  const project = await supabaseProject();
  prepare(project);
  const served = serveFunctions({
    LATCHKEY_IDENTITY: "supabase",
    SUPABASE_URL: project.url,
    LATCHKEY_JWT_SIGNING_KEYS: JSON.stringify({ keys: [await newSigningKey()] }),
    ...env,
  });
  try {
    await work(served, project);
  } finally {
    await served.close();
    await project.close();
  }
}
