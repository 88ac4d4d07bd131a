import { z } from "zod";
import { generateApiKey } from "../../_shared/keys/api_key_format.ts";
import {
  apiKeyColumns,
  apiKeyMetadata,
  type ApiKeyRow,
  keyMetadataSchema,
} from "../../_shared/keys/api_keys.ts";
import { ApiError } from "../../_shared/ground/errors.ts";
import { respondIdempotently } from "../../_shared/http/idempotency.ts";
import { checkedScopes } from "../../_shared/keys/scopes.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { isAdminPermission } from "../../_shared/ground/principal.ts";
import { stepUpWhen } from "../../_shared/http/openapi.ts";
import { selfServiceLimits } from "../self_service_limits.ts";

const defaultRateLimitPerMinute = 60;

export const createKeyBody = z.strictObject({
  name: z.string().trim().min(1, "Name the key.").max(200).meta({ examples: ["ci deploy"] }),
  scopes: z.array(z.string().max(64)).max(64).optional().meta({ examples: [["compile"]] }),
  expiresInDays: z.number().int().min(1).max(3650).optional().meta({ examples: [90] }),
  rateLimitPerMinute: z.number().int().min(1).max(1_000_000).optional(),
  metadata: keyMetadataSchema.optional(),
});

// Only an interactive session mints keys: a leaked key must not be able to make more.
export const createKeyRoute = defineRoute({
  method: "post",
  path: "/",
  notifies: true,
  idempotent: true,
  summary: "Create an API key (the secret is shown once); Idempotency-Key honoured",
  auth: ["session"],
  body: createKeyBody,
  stepUp: stepUpWhen(
    createKeyBody,
    "`scopes` include an admin permission (one the caller's role grants: others are refused)",
    (body, permissions) =>
      (body.scopes ?? []).some((scope) => isAdminPermission(scope) && permissions.includes(scope)),
    { name: "terraform", scopes: ["users:read"] },
  ),
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
  const rateLimitPerMinute = body.rateLimitPerMinute ??
    Math.min(defaultRateLimitPerMinute, limits.maxRateLimitPerMinute);
  if (rateLimitPerMinute > limits.maxRateLimitPerMinute) {
    throw new ApiError("validation_failed", {
      details: [{
        path: "rateLimitPerMinute",
        message: `At most ${limits.maxRateLimitPerMinute} on your tier.`,
      }],
    });
  }
  const generated = generateApiKey(config.LATCHKEY_KEY_PREFIX);
  const expiresAt = body.expiresInDays
    ? new Date(Date.now() + body.expiresInDays * 24 * 3600_000)
    : null;
  // Idempotency-Key replays answer `key: null`: the secret is never stored, so never replayed.
  return await respondIdempotently(c, async (tx) => {
    // One key creation per user at a time, so parallel requests cannot slip past the cap.
    await tx`select pg_advisory_xact_lock(hashtext('latchkey.keys'), hashtext(${principal.userId}))`;
    const [{ active }] = await tx<{ active: number }[]>`
      select count(*)::int as active from latchkey.api_keys
      where user_id = ${principal.userId} and revoked_at is null
        and (expires_at is null or expires_at > now())`;
    if (active >= limits.maxActiveKeys) {
      throw new ApiError("key_limit_reached", {
        message: `You hold ${active} active API keys, the most your tier allows; revoke one ` +
          "first.",
      });
    }
    const [created] = await tx<ApiKeyRow[]>`
      insert into latchkey.api_keys (
        user_id, name, key_prefix, key_hash, scopes, rate_limit_per_minute, expires_at, metadata
      ) values (
        ${principal.userId}, ${body.name}, ${generated.keyPrefix},
        decode(${generated.keyHashHex}, 'hex'), ${scopes}::text[],
        ${rateLimitPerMinute}, ${expiresAt}, ${tx.json((body.metadata ?? {}) as never)}
      )
      returning ${tx(apiKeyColumns)}`;
    await tx`
      select latchkey.record_audit_event('api_key.created', 'api_key', ${created.id},
        jsonb_build_object('name', ${created.name}::text, 'keyPrefix', ${created.key_prefix}::text,
          'scopes', to_jsonb(${scopes}::text[])))`;
    const metadata = { success: true, ...apiKeyMetadata(created) };
    return {
      status: 201,
      body: { ...metadata, key: generated.key },
      replayBody: { ...metadata, key: null },
    };
  });
});
