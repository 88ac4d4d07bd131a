import { z } from "zod";
import { generateApiKey } from "../../_shared/keys/api_key_format.ts";
import {
  apiKeyColumns,
  apiKeyMetadata,
  type ApiKeyRow,
  cacheSecondsSchema,
  keyMetadataSchema,
  refillSchema,
  remainingSchema,
} from "../../_shared/keys/api_keys.ts";
import { ApiError } from "../../_shared/ground/errors.ts";
import { respondIdempotently } from "../../_shared/http/idempotency.ts";
import { uuidSchema } from "../../_shared/http/ids.ts";
import type { Transaction } from "../../_shared/db/database.ts";
import { cursorColumn, keysetOf, listPage, pageQuery } from "../../_shared/http/pagination.ts";
import { isAdminPermission } from "../../_shared/ground/principal.ts";
import { stepUpWhen } from "../../_shared/http/openapi.ts";
import { permissionsOver, requireHeld, requireReach } from "../../_shared/identity/reach.ts";
import { checkedScopes } from "../../_shared/keys/scopes.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { adminCredentials } from "../admin_credentials.ts";
import { anyKeyAccess, anyKeyId, keyOwnerReach } from "../any_key.ts";
import { noSuchKey, revokeKey } from "../../_shared/keys/key_lifecycle.ts";
import { networkLimitFields } from "../../_shared/keys/network_limits.ts";

export const listKeysQuery = z.strictObject({
  userId: uuidSchema.optional(),
  orgId: uuidSchema.optional().meta({ description: "Only the keys this organization owns." }),
  unusedForDays: z.coerce.number().int().min(1).max(3650).optional().meta({
    description: "Only active keys (not revoked or expired) unused for this many days: never " +
      "used ones count from their creation.",
  }),
  ...pageQuery,
});

export const listKeysRoute = defineRoute({
  method: "get",
  path: "/keys",
  summary: "List every API key",
  auth: adminCredentials,
  permission: "keys:read",
  query: listKeysQuery,
  responses: {
    200: '`{keys, limit, nextCursor}`, users\' keys (`ownerType: "user"`, `userId`) and ' +
      "organizations' (`ownerType: \"org\"`, `orgId`); each key's `callerMay` lists the " +
      "caller's permissions that reach its owner (as on GET /admin/users/:id; an " +
      "organization's key is reached as a user's), so a console offers only those.",
  },
}, async (c, { query }) => {
  const principal = c.get("principal");
  return c.json(
    await listPage(
      c,
      query,
      "keys",
      (tx, keyset, cursorAt) => keysPageQuery(tx, query, keyset, cursorAt),
      (row) => ({
        ...apiKeyMetadata(row),
        callerMay: row.owner_role
          ? permissionsOver(principal, { name: row.owner_role, permissions: row.owner_permissions })
          : [],
      }),
    ),
  );
});

/**
 * One page of GET /admin/keys. `unusedForDays` compares the stored `last_active_at` (last use,
 * or creation) on its own index, so the few stale keys of a busy deployment are found without
 * walking every key; where most keys are stale, the newest-first walk finds a page at once and
 * the planner may take that instead.
 */
export function keysPageQuery(
  tx: Transaction,
  query: z.output<typeof listKeysQuery>,
  keyset: ReturnType<typeof keysetOf>,
  cursorAt: ReturnType<typeof cursorColumn>,
) {
  return tx<
    (ApiKeyRow & { owner_role: string | null; owner_permissions: string[]; cursor_at: string })[]
  >`
    select ${tx(apiKeyColumns)}, ${keyOwnerReach(tx)}, ${cursorAt}
    from latchkey.api_keys
    where true
      ${query.userId ? tx`and user_id = ${query.userId}` : tx``}
      ${query.orgId ? tx`and org_id = ${query.orgId}` : tx``}
      ${
    query.unusedForDays
      ? tx`and revoked_at is null and (expires_at is null or expires_at > now())
        and last_active_at < now() - make_interval(days => ${query.unusedForDays})`
      : tx``
  }
      ${keyset}`;
}

export const createKeyBody = z.strictObject({
  userId: uuidSchema,
  name: z.string().trim().min(1).max(200).optional().meta({ examples: ["terraform"] }),
  scopes: z.array(z.string().max(64)).max(64).optional().meta({
    examples: [["users:read", "users:write"]],
  }),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
  expiresInDays: z.number().int().min(1).max(3650).optional(),
  keyType: z.enum(["human", "ci", "integration"]).optional().meta({ examples: ["ci"] }),
  rateLimitPerMinute: z.number().int().min(1).max(1_000_000).nullable().optional().meta({
    description: "Requests a minute (default 60); null: no rate limit (a key that cacheSeconds " +
      "needs).",
  }),
  metadata: keyMetadataSchema.optional(),
  remaining: remainingSchema.optional().meta({
    description: "Credits: each VALID verification takes one (default: unlimited).",
  }),
  refill: refillSchema.optional(),
  cacheSeconds: cacheSecondsSchema.optional(),
  ...networkLimitFields,
}).refine((body) =>
  !body.cacheSeconds ||
  (body.rateLimitPerMinute === null && body.remaining === undefined && !body.refill), {
  path: ["cacheSeconds"],
  message: "Only a key with no rate limit (rateLimitPerMinute: null) and no credits can be " +
    "cached: a cached answer would pass them by.",
}).refine((body) => !(body.expiresAt && body.expiresInDays), {
  path: ["expiresAt"],
  message: "Give expiresAt or expiresInDays, not both.",
}).refine((body) => !body.expiresAt || Date.parse(body.expiresAt) > Date.now(), {
  path: ["expiresAt"],
  message: "expiresAt must be in the future.",
});

// Admin-issued scopes may include permissions of the catalogue (Latchkey's and the team's), as
// far as the owner's role grants them and the caller holds them itself; they are checked against
// the owner's role again on every use.
// A key for another account whose role holds more than the caller needs roles:write as well:
// a key is a way into that account.
export const createKeyRoute = defineRoute({
  method: "post",
  path: "/keys",
  notifies: true,
  idempotent: true,
  summary: "Create a key for any user (keyType human, ci or integration)",
  auth: adminCredentials,
  permission: "keys:write",
  permissionNote: "; permission scopes (Latchkey's and the team's) only those the caller " +
    "holds, and roles:write for an account whose role holds a permission the caller lacks",
  body: createKeyBody,
  stepUp: stepUpWhen(
    createKeyBody,
    "`scopes` include an admin permission",
    (body) => (body.scopes ?? []).some(isAdminPermission),
    { userId: "00000000-0000-4000-8000-000000000000", scopes: ["users:read"] },
  ),
  responses: {
    201: "The key's metadata with `key` (once) and `keyType`.",
    400: "Invalid body, unknown user or scopes beyond the owner's role; `cacheSeconds` for a " +
      "key with a rate limit or credits.",
    403: "Scopes the caller does not hold, or an owner beyond its reach without roles:write.",
    409: "Idempotency-Key reused with another request.",
  },
}, async (c, { body }) => {
  const { config } = c.get("runtime");
  const principal = c.get("principal");
  const keyType = body.keyType ?? "integration";
  // A refill without credits starts full.
  const remaining = body.remaining ?? body.refill?.amount ?? null;
  const generated = generateApiKey(config.LATCHKEY_KEY_PREFIX);
  const expiresAt = body.expiresAt
    ? new Date(body.expiresAt)
    : body.expiresInDays
    ? new Date(Date.now() + body.expiresInDays * 24 * 3600_000)
    : null;
  return await respondIdempotently(c, async (tx) => {
    // Through the definer function: a key writer need not be a reader of users.
    const [owner] = await tx<{ role: string | null; permissions: string[] }[]>`
        select latchkey.user_role(${body.userId}) as role,
          latchkey.role_permission_names(latchkey.user_role(${body.userId})) as permissions`;
    if (!owner.role) {
      throw new ApiError("validation_failed", {
        details: [{ path: "userId", message: "No such user." }],
      });
    }
    const scopes = checkedScopes(config, owner.permissions, body.scopes);
    requireHeld(principal, scopes.filter((scope) => owner.permissions.includes(scope)));
    if (body.userId !== principal.userId && !principal.permissions.includes("roles:write")) {
      requireReach(
        principal,
        { name: owner.role, permissions: owner.permissions },
        "Minting a key without roles:write",
      );
    }
    const [created] = await tx<ApiKeyRow[]>`
        insert into latchkey.api_keys (
          user_id, name, key_prefix, key_hash, scopes, key_type, rate_limit_per_minute, expires_at,
          metadata, remaining, refill_amount, refill_interval, refilled_at, cache_seconds,
          allowed_networks, allowed_origins
        ) values (
          ${body.userId}, ${body.name ?? `${keyType} key`}, ${generated.keyPrefix},
          decode(${generated.keyHashHex}, 'hex'), ${scopes}::text[], ${keyType},
          ${body.rateLimitPerMinute === undefined ? 60 : body.rateLimitPerMinute}, ${expiresAt}, ${
      tx.json((body.metadata ?? {}) as never)
    },
          ${remaining}, ${body.refill?.amount ?? null}, ${body.refill?.interval ?? null},
          ${remaining === null ? null : new Date()}, ${body.cacheSeconds ?? null},
          ${body.allowedNetworks ?? []}::cidr[], ${body.allowedOrigins ?? []}::text[]
        )
        returning ${tx(apiKeyColumns)}`;
    await tx`
        select latchkey.record_audit_event('admin.key_created', 'api_key', ${created.id},
          jsonb_build_object('ownerId', ${body.userId}::text, 'keyType', ${keyType}::text,
            'keyPrefix', ${created.key_prefix}::text, 'scopes', to_jsonb(${scopes}::text[])))`;
    const metadata = { success: true, ...apiKeyMetadata(created) };
    return {
      status: 201,
      body: { ...metadata, key: generated.key },
      replayBody: { ...metadata, key: null },
    };
  });
});

export const revokeKeyRoute = defineRoute({
  method: "post",
  path: "/keys/:id/revoke",
  idempotent: true,
  summary: "Revoke any key",
  auth: adminCredentials,
  permission: "keys:revoke",
  permissionNote: "; the caller must hold every permission of the owner's role",
  responses: {
    200: "`{success: true, id, revokedAt}`.",
    403: "The owner's role holds a permission the caller lacks (the message names it).",
    404: "No such key.",
  },
}, async (c) => {
  const id = anyKeyId(c);
  return await respondIdempotently(c, async (tx) => {
    // Checked first, so the answer names what is missing (the revoke policy refuses it too).
    const [key] = await tx<{ owner_role: string; owner_permissions: string[] }[]>`
        select ${keyOwnerReach(tx)} from latchkey.api_keys where id = ${id}`;
    if (!key) throw new ApiError("not_found", { message: noSuchKey });
    requireReach(
      c.get("principal"),
      { name: key.owner_role, permissions: key.owner_permissions },
      "Revoking a key",
    );
    const revokedAt = await revokeKey(tx, id, anyKeyAccess(), "admin.key_revoked");
    return { status: 200, body: { success: true, id, revokedAt: revokedAt.toISOString() } };
  });
});
