import { z } from "zod";
import { issuerFor, mintAccessToken } from "../../_shared/identity/jwt.ts";
import {
  authenticateClient,
  clientCredentialsGrant,
  narrowedToScope,
  presentedClient,
} from "../../_shared/identity/client_credentials.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { ApiError } from "../../_shared/ground/errors.ts";
import { sessionTokenOrganization } from "../../_shared/orgs/organizations.ts";

/** What the route's own call answers (200), for the document and the clients generated from it. */
export const tokenAnswer = z.object({
  access_token: z.string(),
  token_type: z.literal("bearer"),
  expires_in: z.int(),
  expires_at: z.int().meta({ description: "Epoch seconds, the token's `exp`." }),
});

/**
 * OAuth's client credentials grant (RFC 6749 §4.4). `grant_type` is checked before this schema
 * (api/routes.ts); names it does not list are ignored, as the RFC asks.
 */
const clientCredentialsForm = z.object({
  client_id: z.string().max(255).optional().describe(
    "The API key's id, when the client does not authenticate with HTTP Basic.",
  ),
  client_secret: z.string().max(255).optional().describe(
    "The API key itself, when the client does not authenticate with HTTP Basic " +
      "(client_secret_post).",
  ),
  scope: z.string().max(4096).optional().describe(
    "Space-separated scopes, each one the key holds now; default: all of them.",
  ),
});

// The JSON call's body is never read, like sign-out's. A key's token is one use of the key: the
// credential check that ran before this counted it against the key's rate limit and credits and
// touched last_used_at, and refused a revoked, expired or rate-limited key or a banned owner.
// The form call does the same check itself, as OAuth's client authentication.
export const tokenRoute = defineRoute({
  method: "post",
  path: "/token",
  summary: "A short-lived JWT for Supabase's Data API (no body needed; or OAuth 2.0's client " +
    "credentials grant)",
  auth: ["session", "apiKey"],
  query: z.object({
    org: z.uuid().optional().describe(
      "A session only: the organization the token speaks for (the caller must be a member); " +
        "it then carries `org_id`, `org_role` and that role's permissions.",
    ),
  }),
  answer: tokenAnswer,
  responses: {
    200: '`{access_token, token_type: "bearer", expires_in, expires_at}`: a JWT with ' +
      "Supabase's claims (`sub`, `role: authenticated`, `aud: authenticated`, `iss`, `exp`) and " +
      "Latchkey's (`app_role`: a session's role, or for a key the role with the most " +
      "permissions, of its owner's and the built-in ones, that its scopes hold in full; " +
      "`session_id` or `key_id`; for a key `scopes` and `scope`, the same space-separated; " +
      "`email`, `email_verified`, `is_anonymous`) and Supabase Auth's assurance: `aal` (a " +
      "session's level, `aal2` after a second factor; always `aal1` for a key) and `amr` " +
      "(`[{method, timestamp}]`: the session's sign-in methods; for a key " +
      '`[{method: "api_key"}]`). The token request (form body) answers OAuth\'s ' +
      '`{access_token, token_type: "Bearer", expires_in, scope}`: the same token for the key, ' +
      "its scopes narrowed to `scope`. Every token carries `permissions` (what the credential " +
      "may do now); with `?org=` also `org_id`, `org_role` and that role's organization " +
      "permissions, read by `latchkey.org_id()`, `latchkey.org_role()` and " +
      "`latchkey.has_permission(text)` in a team's policies. An organization's key's token " +
      "always carries its organization as `org_id`, `org_role: null` (a key is no member) and " +
      "its effective permissions (its scopes within the organization's ceiling); its `sub` is " +
      "the key's id, which is no user's, and it has no `email`.",
    400: "`validation_failed`: `org` named by a credential other than a session (an " +
      "organization's key always speaks for its own).",
    403: "`org_suspended`: the organization named by `org` is suspended.",
    404: "`not_found`: the session's user is not a member of the organization named by `org`.",
    429: "`rate_limited`: the API key's rate limit is used up; minting counts as a use.",
    501: "`not_configured`: neither LATCHKEY_JWT_SIGNING_KEYS nor LATCHKEY_JWT_SECRET is set.",
  },
  oauthTokenRequest: {
    grantTypes: [clientCredentialsGrant],
    body: clientCredentialsForm,
    responses: {
      400: "`invalid_request` (a parameter missing, repeated or too long; HTTP Basic and " +
        "client_secret both), `unsupported_grant_type`, `invalid_scope` (a scope the key does " +
        "not hold), `unauthorized_client` (the key is disabled or its owner suspended).",
      401: "`invalid_client` with `WWW-Authenticate: Basic`: no client authentication, an " +
        "unknown id or secret, a key sent with another key's id, a revoked or expired key. " +
        "Each counts against the client (LATCHKEY_CLIENT_CREDENTIALS_MAX_FAILURES).",
      429: "`too_many_requests` (too many failed client authentications from this client; " +
        "every token request of it until `Retry-After`), `rate_limited` or `usage_exceeded` " +
        "(the key's limits; minting counts as a use and spends a credit).",
    },
  },
}, async (c, { query }) => {
  const runtime = c.get("runtime");
  const principal = c.get("principal");
  if (query.org && principal.kind !== "session") {
    throw new ApiError("validation_failed", {
      details: [{ path: "org", message: "Only a session names an organization for its token." }],
    });
  }
  const organization = query.org ? await sessionTokenOrganization(c, query.org) : null;
  const token = await mintAccessToken(
    runtime,
    principal,
    issuerFor(runtime.config, c.req.url),
    organization,
  );
  c.header("Cache-Control", "no-store");
  return c.json(token);
}, async (c, form) => {
  const runtime = c.get("runtime");
  const principal = narrowedToScope(
    await authenticateClient(c, presentedClient(c, form)),
    form.scope,
  );
  c.set("principal", principal);
  const token = await mintAccessToken(runtime, principal, issuerFor(runtime.config, c.req.url));
  c.header("Cache-Control", "no-store");
  c.header("Pragma", "no-cache");
  return c.json({
    access_token: token.access_token,
    token_type: "Bearer",
    expires_in: token.expires_in,
    scope: principal.apiKey!.scopes.join(" "),
  });
});
