import { issuerFor, mintAccessToken } from "../../_shared/identity/jwt.ts";
import { defineRoute } from "../../_shared/api/routes.ts";

// The body is never read, like sign-out's. A key's token is one use of the key: the credential
// check that ran before this counted it against the key's rate limit and touched last_used_at,
// and refused a revoked, expired or rate-limited key or a banned owner.
export const tokenRoute = defineRoute({
  method: "post",
  path: "/token",
  summary: "A short-lived JWT for Supabase's Data API (no body needed)",
  auth: ["session", "apiKey"],
  responses: {
    200: '`{access_token, token_type: "bearer", expires_in, expires_at}`: a JWT with ' +
      "Supabase's claims (`sub`, `role: authenticated`, `aud: authenticated`, `iss`, `exp`) and " +
      "Latchkey's (`app_role`: a session's role, or for a key the role with the most " +
      "permissions, of its owner's and the built-in ones, that its scopes hold in full; `session_id` or `key_id`; `scopes` for a key; `email`, `email_verified`, " +
      "`is_anonymous`) and Supabase Auth's assurance: `aal` (a session's level, `aal2` after a " +
      "second factor; always `aal1` for a key) and `amr` (`[{method, timestamp}]`: the " +
      'session\'s sign-in methods; for a key `[{method: "api_key"}]`).',
    429: "`rate_limited`: the API key's rate limit is used up; minting counts as a use.",
    501: "`not_configured`: neither LATCHKEY_JWT_SIGNING_KEYS nor LATCHKEY_JWT_SECRET is set.",
  },
}, async (c) => {
  const runtime = c.get("runtime");
  const token = await mintAccessToken(
    runtime,
    c.get("principal"),
    issuerFor(runtime.config, c.req.url),
  );
  c.header("Cache-Control", "no-store");
  return c.json(token);
});
