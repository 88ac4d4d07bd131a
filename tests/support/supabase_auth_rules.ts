import { importJWK, type JWK, type JWTPayload, jwtVerify } from "jose";
import { withDatabase } from "./http.ts";

/**
 * Whether Supabase Auth would take a bearer token as a signed-in user's session, by the rules its
 * source states (supabase/auth, `internal/api/auth.go`: `requireAuthentication` →
 * `parseJWTClaims` → `maybeLoadUserOrSession`; `internal/conf/jwk.go`: `FindPublicKeyByKid`):
 *
 * 1. The parser accepts only the algorithms of the project's keys (`JWT.ValidMethods`).
 * 2. The key: the project key whose id is the header's `kid`; else, for `alg: HS256`, the legacy
 *    JWT secret, whatever the `kid`; else the token is refused.
 * 3. The signature and the registered time claims (`exp`, `nbf`) are checked; `iss` and `aud`
 *    are not, nor `role`.
 * 4. `sub` must be present, a UUID, and an existing `auth.users` row.
 * 5. A `session_id` other than the nil UUID must name an existing session; none is needed.
 *
 * An accepted token reaches every `requireAuthentication` route, `PUT /auth/v1/user` (a new
 * password) among them. This is what Latchkey's minted tokens are checked against.
 */
export interface SupabaseAuthTrust {
  /** The project's legacy JWT secret, if it has one. */
  legacySecret?: string;
  /** The project's signing keys (public halves, each with its `kid`). */
  keys: (JWK & { kid: string })[];
  /** Whether a session id exists (our hosted-like cluster has no auth.sessions: none do). */
  sessionExists?: (id: string) => Promise<boolean>;
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const nilUuid = "00000000-0000-0000-0000-000000000000";

/** The claims Supabase Auth would act on, or why it refuses the token. */
export async function supabaseAuthVerdict(
  token: string,
  trust: SupabaseAuthTrust,
): Promise<{ accepted: true; claims: JWTPayload } | { accepted: false; reason: string }> {
  const validMethods = [
    ...trust.keys.map((key) => key.alg ?? "ES256"),
    ...(trust.legacySecret ? ["HS256"] : []),
  ];
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(token, async (header) => {
      const byKid = trust.keys.find((key) => key.kid === header.kid);
      if (byKid) return await importJWK(byKid, byKid.alg ?? "ES256");
      if (header.alg === "HS256" && trust.legacySecret) {
        return new TextEncoder().encode(trust.legacySecret);
      }
      throw new Error(`unrecognized JWT kid ${header.kid} for algorithm ${header.alg}`);
    }, { algorithms: validMethods }));
  } catch (error) {
    return { accepted: false, reason: `bad_jwt: ${(error as Error).message}` };
  }
  if (!claims.sub) return { accepted: false, reason: "bad_jwt: missing sub claim" };
  if (!uuid.test(claims.sub)) return { accepted: false, reason: "bad_jwt: sub is not a UUID" };
  const [{ exists }] = await withDatabase((sql) =>
    sql<{ exists: boolean }[]>`select exists(select 1 from auth.users where id = ${claims.sub!})`
  );
  if (!exists) return { accepted: false, reason: "user_not_found" };
  const sessionId = typeof claims.session_id === "string" ? claims.session_id : "";
  if (sessionId !== "" && sessionId !== nilUuid) {
    if (!uuid.test(sessionId)) return { accepted: false, reason: "bad_jwt: session_id" };
    if (!(await (trust.sessionExists ?? (() => Promise.resolve(false)))(sessionId))) {
      return { accepted: false, reason: "session_not_found" };
    }
  }
  return { accepted: true, claims };
}
