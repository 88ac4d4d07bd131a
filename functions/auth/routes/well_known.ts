import { issuerFor, publicJwks, signingAlgorithm } from "../../_shared/identity/jwt.ts";
import { defineRoute } from "../../_shared/api/routes.ts";

// What a verifier (PostgREST, Supabase third-party auth, any JOSE library) needs to trust our
// tokens: the public halves of the signing keys, and where to find them from the issuer.
export const jwksRoute = defineRoute({
  method: "get",
  path: "/.well-known/jwks.json",
  summary: "Public keys that verify Latchkey's access tokens",
  auth: [],
  responses: {
    200: "`{keys}`: the public half of every LATCHKEY_JWT_SIGNING_KEYS entry, with its `kid`. " +
      "Empty with HS256 (a shared secret is never published) or when nothing is configured.",
  },
}, (c) => {
  c.header("Cache-Control", "public, max-age=300");
  return c.json({ keys: publicJwks(c.get("runtime").config) });
});

export const openIdConfigurationRoute = defineRoute({
  method: "get",
  path: "/.well-known/openid-configuration",
  summary: "Issuer metadata (OpenID discovery) for verifiers of Latchkey's tokens",
  auth: [],
  responses: { 200: "`{issuer, jwks_uri, id_token_signing_alg_values_supported, ...}`." },
}, (c) => {
  const { config } = c.get("runtime");
  const issuer = issuerFor(config, c.req.url);
  const algorithm = signingAlgorithm(config);
  c.header("Cache-Control", "public, max-age=300");
  return c.json({
    issuer,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    token_endpoint: `${issuer}/token`,
    response_types_supported: ["token"],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: algorithm ? [algorithm] : [],
    claims_supported: [
      "iss",
      "sub",
      "aud",
      "exp",
      "iat",
      "nbf",
      "jti",
      "role",
      "app_role",
      "email",
      "email_verified",
      "is_anonymous",
      "session_id",
      "key_id",
      "scopes",
    ],
  });
});
