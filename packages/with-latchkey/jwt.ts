/**
 * JWT verification with WebCrypto alone (Deno, Node 20+, the edge runtime): ES256 and RS256
 * against an issuer's JWKS, HS256 against a shared secret. Only tokens of an issuer the
 * configuration trusts, for the audience it names, with the role `authenticated`, inside their
 * lifetime. Anything else is refused, never an exception.
 */

/** The claims of a verified token. */
export type Claims = Record<string, unknown> & { sub: string; exp: number };

export interface TrustedIssuer {
  /** `iss` exactly, e.g. `https://<ref>.supabase.co/functions/v1/auth`. */
  issuer: string;
  /** Where its public keys are (ES256, RS256). */
  jwksUrl?: string;
  /** Its HS256 secret (a project's legacy JWT secret). */
  secret?: string;
}

export interface JwtVerifierOptions {
  issuers: TrustedIssuer[];
  /** `aud` a token must name (default `authenticated`). */
  audience?: string;
  fetch?: (request: Request) => Promise<Response>;
  /** Now, in milliseconds (tests move it). */
  now?: () => number;
}

export type JwtVerifier = (token: string) => Promise<Claims | null>;

/** Three base64url parts, the first a JSON object (`eyJ` is `{"`). */
export function looksLikeJwt(text: string): boolean {
  return /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(text);
}

function base64UrlBytes(text: string) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (character) => character.charCodeAt(0));
}

function jsonPart(text: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(new TextDecoder().decode(base64UrlBytes(text)));
    return value && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/** The key algorithm WebCrypto needs for a JWS `alg`. */
const algorithms = {
  ES256: {
    importAs: { name: "ECDSA", namedCurve: "P-256" },
    verifyAs: { name: "ECDSA", hash: "SHA-256" },
    kty: "EC",
  },
  RS256: {
    importAs: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    verifyAs: { name: "RSASSA-PKCS1-v1_5" },
    kty: "RSA",
  },
} as const;

type PublicAlgorithm = keyof typeof algorithms;

interface PublicKeys {
  keys: (JsonWebKey & { kid?: string; alg?: string })[];
  fetchedAt: number;
}

/** A JWKS is kept this long; an unknown `kid` fetches it again, at most this often. */
const jwksMaxAgeMs = 300_000;
const jwksRefetchMs = 30_000;
/** Clock difference tolerated on `exp`, `nbf` and `iat`. */
const leewaySeconds = 5;

export function jwtVerifier(options: JwtVerifierOptions): JwtVerifier {
  const audience = options.audience ?? "authenticated";
  const now = options.now ?? Date.now;
  const doFetch = options.fetch ?? ((request: Request) => fetch(request));
  const byIssuer = new Map(options.issuers.map((trusted) => [trusted.issuer, trusted]));
  const jwks = new Map<string, Promise<PublicKeys | null>>();
  const secrets = new Map<string, Promise<CryptoKey>>();

  function loadJwks(url: string): Promise<PublicKeys | null> {
    const loading = doFetch(new Request(url, { headers: { accept: "application/json" } }))
      .then(async (response) => {
        if (!response.ok) {
          await response.body?.cancel();
          return null;
        }
        const body = await response.json();
        return Array.isArray(body?.keys) ? { keys: body.keys, fetchedAt: now() } : null;
      })
      .catch(() => null);
    jwks.set(url, loading);
    return loading;
  }

  async function publicKey(url: string, kid: unknown, alg: PublicAlgorithm) {
    let known = await (jwks.get(url) ?? loadJwks(url));
    const find = (set: PublicKeys | null) =>
      set?.keys.find((key) =>
        key.kty === algorithms[alg].kty && (key.alg === undefined || key.alg === alg) &&
        (kid === undefined || key.kid === kid)
      );
    let key = find(known);
    const age = known ? now() - known.fetchedAt : Infinity;
    // A key rotated in since (or a failed fetch): ask again, but not on every forged token.
    if ((!key && age > jwksRefetchMs) || age > jwksMaxAgeMs) {
      known = await loadJwks(url);
      key = find(known);
    }
    if (!key) return null;
    const { kty, crv, x, y, n, e } = key;
    return await crypto.subtle.importKey(
      "jwk",
      { kty, crv, x, y, n, e },
      algorithms[alg].importAs,
      false,
      ["verify"],
    );
  }

  function hmacKey(secret: string): Promise<CryptoKey> {
    let key = secrets.get(secret);
    if (!key) {
      key = crypto.subtle.importKey(
        "raw",
        new TextEncoder().encode(secret),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["verify"],
      );
      secrets.set(secret, key);
    }
    return key;
  }

  return async (token) => {
    if (!looksLikeJwt(token)) return null;
    const [headerPart, payloadPart, signaturePart] = token.split(".");
    const header = jsonPart(headerPart);
    const claims = jsonPart(payloadPart);
    if (!header || !claims || header.crit !== undefined) return null;
    const trusted = typeof claims.iss === "string" ? byIssuer.get(claims.iss) : undefined;
    if (!trusted) return null;
    const signed = new TextEncoder().encode(`${headerPart}.${payloadPart}`);
    const signature = base64UrlBytes(signaturePart);
    let valid = false;
    try {
      if (header.alg === "HS256") {
        if (!trusted.secret) return null;
        valid = await crypto.subtle.verify(
          "HMAC",
          await hmacKey(trusted.secret),
          signature,
          signed,
        );
      } else if (header.alg === "ES256" || header.alg === "RS256") {
        if (!trusted.jwksUrl) return null;
        const key = await publicKey(trusted.jwksUrl, header.kid, header.alg);
        if (!key) return null;
        valid = await crypto.subtle.verify(algorithms[header.alg].verifyAs, key, signature, signed);
      }
    } catch {
      return null;
    }
    if (!valid) return null;
    const seconds = now() / 1000;
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (
      typeof claims.sub !== "string" || claims.sub === "" ||
      typeof claims.exp !== "number" || claims.exp <= seconds - leewaySeconds ||
      (typeof claims.nbf === "number" && claims.nbf > seconds + leewaySeconds) ||
      (typeof claims.iat === "number" && claims.iat > seconds + leewaySeconds) ||
      !audiences.includes(audience) ||
      // A person's or a key's token: never `anon` or `service_role`.
      claims.role !== "authenticated"
    ) {
      return null;
    }
    return claims as Claims;
  };
}
