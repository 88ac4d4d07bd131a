import { importJWK, type JWK, SignJWT } from "jose";
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
 * Supabase Auth's project, as far as Latchkey and its console see it: the JWKS endpoint, with
 * keys that can be rotated in, and the password grant (`POST /auth/v1/token?grant_type=password`)
 * for the people given a password with `withPassword`, answering browsers from any origin as
 * Supabase Auth does.
 */
export async function supabaseProject({ anonKey = "" } = {}) {
  const keys: (JWK & { kid: string })[] = [await newSigningKey()];
  const passwords = new Map<string, { user: AuthUser; password: string }>();
  let fetches = 0;
  const cors = {
    "access-control-allow-origin": "*",
    "access-control-allow-headers": "apikey, authorization, content-type, x-client-info",
    "access-control-allow-methods": "POST, GET, OPTIONS",
  };
  // The handler signs with token() below; requests arrive only once the object exists.
  let tokenFor: (user: AuthUser) => Promise<string> = () => Promise.reject();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const { pathname, searchParams } = new URL(request.url);
    if (pathname === "/auth/v1/token") {
      if (request.method === "OPTIONS") return new Response(null, { status: 204, headers: cors });
      const body = await request.json().catch(() => ({}));
      const known = passwords.get(String(body.email ?? "").toLowerCase());
      if (
        searchParams.get("grant_type") !== "password" || request.headers.get("apikey") !== anonKey
      ) {
        return Response.json({ code: 401, error_code: "no_api_key", msg: "Invalid API key" }, {
          status: 401,
          headers: cors,
        });
      }
      if (!known || known.password !== body.password) {
        return Response.json(
          { code: 400, error_code: "invalid_credentials", msg: "Invalid login credentials" },
          { status: 400, headers: cors },
        );
      }
      return Response.json({
        access_token: await tokenFor(known.user),
        token_type: "bearer",
        expires_in: 3600,
        refresh_token: crypto.randomUUID(),
        user: { id: known.user.id, email: known.user.email },
      }, { headers: cors });
    }
    if (pathname !== "/auth/v1/.well-known/jwks.json") {
      return new Response("not found", { status: 404 });
    }
    fetches += 1;
    return Response.json({
      keys: keys.map(({ kty, crv, x, y, kid }) => ({ kty, crv, x, y, kid, alg: "ES256" })),
    });
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  const project = {
    url,
    keys,
    fetches: () => fetches,
    /** Lets `user` sign in with `password` through the password grant. */
    withPassword(user: AuthUser, password: string) {
      passwords.set(user.email!.toLowerCase(), { user, password });
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
  tokenFor = (user) => project.token(user);
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
