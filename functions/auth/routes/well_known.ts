import { issuerFor, publicJwks, signingAlgorithm } from "../../_shared/identity/jwt.ts";
import {
  clientAuthenticationMethods,
  clientCredentialsGrant,
} from "../../_shared/identity/client_credentials.ts";
import { adminPermissions } from "../../_shared/ground/principal.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import type { AppContext } from "../../_shared/http/context.ts";

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

/**
 * The issuer's metadata, for verifiers (OpenID discovery) and for machines that get tokens by
 * OAuth's client credentials (RFC 8414's fields: the token endpoint, its grant and its client
 * authentications, the scopes a key may hold).
 */
function issuerMetadata(c: AppContext) {
  const { config } = c.get("runtime");
  const issuer = issuerFor(config, c.req.url);
  const algorithm = signingAlgorithm(config);
  c.header("Cache-Control", "public, max-age=300");
  return c.json({
    issuer,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    token_endpoint: `${issuer}/token`,
    grant_types_supported: [clientCredentialsGrant],
    token_endpoint_auth_methods_supported: clientAuthenticationMethods,
    scopes_supported: [...config.LATCHKEY_SCOPES, ...adminPermissions],
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
      "scope",
      "aal",
      "amr",
    ],
  });
}

const metadataResponse = "`{issuer, jwks_uri, token_endpoint, grant_types_supported: " +
  '["client_credentials"], token_endpoint_auth_methods_supported: ["client_secret_basic", ' +
  '"client_secret_post"], scopes_supported, id_token_signing_alg_values_supported, ...}`.';

export const openIdConfigurationRoute = defineRoute({
  method: "get",
  path: "/.well-known/openid-configuration",
  summary:
    "Issuer metadata (OpenID discovery) for verifiers of Latchkey's tokens and OAuth clients",
  auth: [],
  responses: { 200: metadataResponse },
}, issuerMetadata);

// RFC 8414 puts this document at the host's root with the issuer's path after it
// (`/.well-known/oauth-authorization-server/functions/v1/auth`), where an edge function cannot
// answer; under the issuer, as here, is where clients that append it look.
export const authorizationServerMetadataRoute = defineRoute({
  method: "get",
  path: "/.well-known/oauth-authorization-server",
  summary: "Issuer metadata (OAuth 2.0 authorization server metadata, RFC 8414), as above",
  auth: [],
  responses: { 200: metadataResponse },
}, issuerMetadata);
