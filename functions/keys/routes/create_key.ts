import { ApiError } from "../../_shared/ground/errors.ts";
import { respondIdempotently } from "../../_shared/http/idempotency.ts";
import { checkedScopes } from "../../_shared/keys/scopes.ts";
import {
  adminScopedKeyStepUp,
  createKey,
  createKeyBody,
} from "../../_shared/keys/key_lifecycle.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { selfServiceKey, selfServiceLimits } from "../../_shared/keys/self_service_limits.ts";

// Only an interactive session mints keys: a leaked key must not be able to make more.
export const createKeyRoute = defineRoute({
  method: "post",
  path: "/",
  notifies: true,
  idempotent: true,
  summary: "Create an API key (the secret is shown once); Idempotency-Key honoured",
  auth: ["session"],
  body: createKeyBody,
  stepUp: adminScopedKeyStepUp,
  responses: {
    201: "The key's metadata and `key`, the secret (null on an idempotent replay).",
    400: "Invalid body, unknown scopes (the message lists the allowed ones), or a rate limit " +
      "above the tier's cap.",
    403: "An API key cannot mint API keys: sign in for a session. An anonymous Supabase Auth " +
      "user cannot either.",
    409: "`key_limit_reached`: as many active keys as the tier allows; or Idempotency-Key " +
      "reused with another request.",
  },
}, async (c, { body }) => {
  const principal = c.get("principal");
  const { config } = c.get("runtime");
  if (principal.anonymous) {
    throw new ApiError("forbidden", {
      message: "An anonymous Supabase Auth user cannot create API keys: link an email or " +
        "sign in first.",
    });
  }
  // A session's permissions are its role's, as the database has them now.
  const scopes = checkedScopes(config, principal.permissions, body.scopes);
  const limits = selfServiceLimits(config, principal.user?.tier ?? "");
  const key = selfServiceKey(limits, body, scopes);
  // Idempotency-Key replays answer `key: null`: the secret is never stored, so never replayed.
  return await respondIdempotently(c, async (tx) => {
    const created = await createKey(tx, { userId: principal.userId! }, key, {
      keyPrefix: config.LATCHKEY_KEY_PREFIX,
      maxActiveKeys: limits.maxActiveKeys,
      auditAction: "api_key.created",
    });
    const metadata = { success: true, ...created.metadata };
    return {
      status: 201,
      body: { ...metadata, key: created.key },
      replayBody: { ...metadata, key: null },
    };
  });
});
