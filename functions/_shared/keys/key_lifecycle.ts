import { z } from "zod";
import { generateApiKey } from "./api_key_format.ts";
import {
  apiKeyColumns,
  apiKeyMetadata,
  type ApiKeyRow,
  cacheSecondsSchema,
  keyMetadataSchema,
  refillSchema,
  remainingSchema,
} from "./api_keys.ts";
import type { Transaction } from "../db/database.ts";
import { ApiError } from "../ground/errors.ts";
import { isAdminPermission } from "../ground/principal.ts";
import { stepUpWhen } from "../http/openapi.ts";
import { networkLimitFields } from "./network_limits.ts";

/**
 * One key lifecycle for every owner: a user's own keys (`/keys`), an organization's (`/orgs/:id/
 * keys`) and every key for the platform's staff (`/admin/keys`). The routes differ in who may see
 * the key (`findKey`: an owner's keys, or every key a key reader sees) and in the audit action;
 * the database decides who may change it. Each runs in the caller's transaction and returns what
 * it found or made; the routes answer (a refusal is an ApiError).
 */
export interface KeyAccess {
  /** The key as the caller sees it, or null (404). */
  findKey: (tx: Transaction, id: string) => Promise<ApiKeyRow | null>;
  /** Why the database refused a key the caller can see. */
  forbidden: ApiError;
}

export const noSuchKey = "No such API key.";

/** Whose keys: a user's or an organization's (a key has exactly one owner). */
export type KeyOwner = { userId: string } | { orgId: string };

function ownedBy(tx: Transaction, owner: KeyOwner) {
  return "userId" in owner ? tx`user_id = ${owner.userId}` : tx`org_id = ${owner.orgId}`;
}

/**
 * The owner's keys as the caller sees them (the policies filter again): another owner's key is
 * a 404, as if it did not exist. `forbidden` says why the database refused a visible one.
 */
export function ownedKeyAccess(owner: KeyOwner, forbidden: ApiError): KeyAccess {
  return {
    findKey: async (tx, id) => {
      const [row] = await tx<ApiKeyRow[]>`
        select ${tx(apiKeyColumns)} from latchkey.api_keys
        where id = ${id} and ${ownedBy(tx, owner)}`;
      return row ?? null;
    },
    forbidden,
  };
}

/** The network limits a change sets, as its audit event records them (where a key may be used). */
function networkLimitsSet(changes: KeyChanges): Record<string, string[]> {
  return Object.fromEntries(
    (["allowedNetworks", "allowedOrigins"] as const).flatMap((name) =>
      changes[name] ? [[name, changes[name]]] : []
    ),
  );
}

/** What an audit event of a key's lifecycle adds for an organization's key: its organization. */
function ownerDetail(key: Pick<ApiKeyRow, "org_id">): Record<string, string> {
  return key.org_id === null ? {} : { orgId: key.org_id };
}

async function visibleKey(tx: Transaction, access: KeyAccess, id: string): Promise<ApiKeyRow> {
  const key = await access.findKey(tx, id);
  if (!key) throw new ApiError("not_found", { message: noSuchKey });
  return key;
}

async function keyById(tx: Transaction, id: string): Promise<ApiKeyRow> {
  const [row] = await tx<ApiKeyRow[]>`
    select ${tx(apiKeyColumns)} from latchkey.api_keys where id = ${id}`;
  return row;
}

export const createKeyBody = z.strictObject({
  name: z.string().trim().min(1, "Name the key.").max(200).meta({ examples: ["ci deploy"] }),
  scopes: z.array(z.string().max(64)).max(64).optional().meta({ examples: [["compile"]] }),
  expiresInDays: z.number().int().min(1).max(3650).optional().meta({ examples: [90] }),
  rateLimitPerMinute: z.number().int().min(1).max(1_000_000).optional(),
  metadata: keyMetadataSchema.optional(),
  ...networkLimitFields,
});

/**
 * The step-up both self-service creations declare: a key holding an admin permission the
 * caller's role grants (a permission it does not grant is refused for that).
 */
export const adminScopedKeyStepUp = stepUpWhen(
  createKeyBody,
  "`scopes` include an admin permission (one the caller's role grants: others are refused)",
  (body, permissions) =>
    (body.scopes ?? []).some((scope) => isAdminPermission(scope) && permissions.includes(scope)),
  { name: "terraform", scopes: ["users:read"] },
);

/** A new key's settings, checked by the route (scopes within what the owner may hold). */
export interface NewKey {
  name: string;
  scopes: string[];
  rateLimitPerMinute: number;
  expiresAt: Date | null;
  metadata: Record<string, unknown>;
  allowedNetworks: string[];
  allowedOrigins: string[];
}

/** A created key: its metadata and its secret, shown once. */
export interface CreatedKey {
  metadata: ReturnType<typeof apiKeyMetadata>;
  key: string;
}

/**
 * A new key of `owner`'s, audited, unless the owner already holds `maxActiveKeys` active keys
 * (409 key_limit_reached). The database decides whether the caller may make it.
 */
export async function createKey(
  tx: Transaction,
  owner: KeyOwner,
  key: NewKey,
  { keyPrefix, maxActiveKeys, auditAction }: {
    keyPrefix: string;
    maxActiveKeys: number;
    auditAction: string;
  },
): Promise<CreatedKey> {
  const generated = generateApiKey(keyPrefix);
  const ownerId = "userId" in owner ? owner.userId : owner.orgId;
  // One creation per owner at a time, so parallel requests cannot slip past the cap.
  await tx`select pg_advisory_xact_lock(hashtext('latchkey.keys'), hashtext(${ownerId}))`;
  const [{ active }] = await tx<{ active: number }[]>`
    select count(*)::int as active from latchkey.api_keys
    where ${ownedBy(tx, owner)} and revoked_at is null
      and (expires_at is null or expires_at > now())`;
  if (active >= maxActiveKeys) {
    throw new ApiError("key_limit_reached", {
      message: "userId" in owner
        ? `You hold ${active} active API keys, the most your tier allows; revoke one first.`
        : `This organization holds ${active} active API keys, the most allowed; revoke one ` +
          "first.",
    });
  }
  const [created] = await tx<ApiKeyRow[]>`
    insert into latchkey.api_keys (
      user_id, org_id, name, key_prefix, key_hash, scopes, rate_limit_per_minute, expires_at,
      metadata, allowed_networks, allowed_origins
    ) values (
      ${"userId" in owner ? owner.userId : null}, ${"orgId" in owner ? owner.orgId : null},
      ${key.name}, ${generated.keyPrefix}, decode(${generated.keyHashHex}, 'hex'),
      ${key.scopes}::text[], ${key.rateLimitPerMinute}, ${key.expiresAt},
      ${tx.json(key.metadata as never)}, ${key.allowedNetworks}::cidr[],
      ${key.allowedOrigins}::text[]
    )
    returning ${tx(apiKeyColumns)}`;
  await tx`
    select latchkey.record_audit_event(${auditAction}, 'api_key', ${created.id},
      jsonb_build_object('name', ${created.name}::text, 'keyPrefix', ${created.key_prefix}::text,
        'scopes', to_jsonb(${key.scopes}::text[])) || ${tx.json(ownerDetail(created))}::jsonb)`;
  return { metadata: apiKeyMetadata(created), key: generated.key };
}

/** The key's metadata, if the caller sees it (else 404). */
export async function readKey(
  tx: Transaction,
  id: string,
  access: KeyAccess,
): Promise<ReturnType<typeof apiKeyMetadata>> {
  return apiKeyMetadata(await visibleKey(tx, access, id));
}

/**
 * Revokes a key the caller sees, if the database lets it (`access.forbidden` otherwise: an API
 * key's sibling, a key beyond reach); audited. Revoking twice is not an error: the answer keeps
 * the first revocation's time. Returns when it was revoked.
 */
export async function revokeKey(
  tx: Transaction,
  id: string,
  access: KeyAccess,
  auditAction: string,
): Promise<Date> {
  const key = await visibleKey(tx, access, id);
  const [revoked] = await tx<{ revoked_at: Date }[]>`
    update latchkey.api_keys set revoked_at = now()
    where id = ${id} and revoked_at is null
    returning revoked_at`;
  if (!revoked) {
    // Revoked already, perhaps a moment ago by a concurrent request (keep the first time), or
    // the revoke policy does not show the caller this key.
    const [first] = await tx<{ revoked_at: Date | null }[]>`
      select revoked_at from latchkey.api_keys where id = ${id}`;
    if (!first?.revoked_at) throw access.forbidden;
    return first.revoked_at;
  }
  await tx`
    select latchkey.record_audit_event(${auditAction}, 'api_key', ${id},
      ${tx.json(ownerDetail(key))}::jsonb)`;
  return revoked.revoked_at;
}

export const rotateKeyBody = z.strictObject({
  overlapSeconds: z.number().int().min(0).max(604_800).optional().meta({
    description: "How long the old key keeps working (0 to 7 days; default 0: it stops now).",
    examples: [3600],
  }),
});

/** A rotation's outcome: the new key's metadata (with the old key's end) and its secret. */
export interface RotatedKey {
  metadata: ReturnType<typeof apiKeyMetadata> & { previousKey: { id: string; expiresAt: string } };
  /** The new secret, shown once: an idempotent replay answers `key: null` (it is never stored). */
  key: string;
}

/**
 * A new secret for the key; the old one works until now + overlap, sharing the new key's rate
 * limit and credits.
 */
export async function rotateKey(
  tx: Transaction,
  id: string,
  body: z.output<typeof rotateKeyBody>,
  access: KeyAccess,
  { keyPrefix, auditAction }: { keyPrefix: string; auditAction: string },
): Promise<RotatedKey> {
  const generated = generateApiKey(keyPrefix);
  const overlapSeconds = body.overlapSeconds ?? 0;
  await visibleKey(tx, access, id);
  const [{ outcome, new_key_id }] = await tx<{ outcome: string; new_key_id: string | null }[]>`
    select * from latchkey.rotate_api_key(${id}, ${generated.keyPrefix},
      decode(${generated.keyHashHex}, 'hex'), make_interval(secs => ${overlapSeconds}))`;
  if (outcome === "not_found") throw new ApiError("not_found", { message: noSuchKey });
  if (outcome === "forbidden") throw access.forbidden;
  if (outcome === "already_rotated") {
    throw new ApiError("key_not_rotatable", {
      message: "This key was rotated already; rotate the key that replaced it (replacedBy).",
    });
  }
  if (outcome === "not_active") {
    throw new ApiError("key_not_rotatable", {
      message: "This key is revoked or expired; create a new key instead.",
    });
  }
  const [created, previous] = [await keyById(tx, new_key_id!), await keyById(tx, id)];
  await tx`
    select latchkey.record_audit_event(${auditAction}, 'api_key', ${id},
      jsonb_build_object('newKeyId', ${created.id}::text, 'oldKeyId', ${id}::text,
        'overlapSeconds', ${overlapSeconds}::int,
        'oldKeyExpiresAt', ${previous.expires_at!.toISOString()}::text)
        || ${tx.json(ownerDetail(previous))}::jsonb)`;
  return {
    metadata: {
      ...apiKeyMetadata(created),
      previousKey: { id, expiresAt: previous.expires_at!.toISOString() },
    },
    key: generated.key,
  };
}

/** What an owner may change on its key. */
export const ownerKeyChanges = {
  name: z.string().trim().min(1, "Name the key.").max(200).optional(),
  enabled: z.boolean().optional().meta({
    description: "false: the key verifies as DISABLED and is refused as a credential until " +
      "enabled again (unlike revocation, this can be undone).",
  }),
  metadata: keyMetadataSchema.optional(),
  cacheSeconds: cacheSecondsSchema.optional(),
  ...networkLimitFields,
};

/** What only a key writer may change besides. */
export const writerKeyChanges = {
  ...ownerKeyChanges,
  rateLimitPerMinute: z.number().int().min(1).max(1_000_000).nullable().optional().meta({
    description: "Requests a minute; null: no rate limit (a key that cacheSeconds needs).",
  }),
  remaining: remainingSchema.nullable().optional().meta({
    description: "Credits left; null removes the usage limit (and its refill).",
  }),
  refill: refillSchema.nullable().optional(),
};

const atLeastOneChange = (body: Record<string, unknown>) => Object.keys(body).length > 0;

export const ownerKeyPatch = z.strictObject(ownerKeyChanges)
  .refine(
    atLeastOneChange,
    "Give at least one of name, enabled, metadata, cacheSeconds, allowedNetworks, allowedOrigins.",
  );

export const writerKeyPatch = z.strictObject(writerKeyChanges)
  .refine(atLeastOneChange, "Give at least one change.")
  // Removing the credits removes their refill.
  .transform((body) => body.remaining === null ? { ...body, refill: null } : body);

export type KeyChanges = Partial<z.output<typeof writerKeyPatch>>;

/**
 * The step-up both PATCH routes declare: enabling a disabled key with an admin permission needs
 * a fresh second factor, which the database's trigger enforces (the route does not load the key's
 * scopes first).
 */
export const enablingAdminKeyStepUp = {
  when: "it enables a disabled key that holds an admin permission (the database refuses it)",
};

/** A cache asked for a key a cached answer would let pass its rate limit or credits by. */
export function notCacheable(): ApiError {
  return new ApiError("validation_failed", {
    details: [{
      path: "cacheSeconds",
      message: "Only a key with no rate limit (rateLimitPerMinute: null, which an admin sets) " +
        "and no credits can be cached: a cached answer would pass them by.",
    }],
  });
}

/**
 * Applies the changes through the database's own check of who may change what; audited.
 * Returns the key's metadata after the change.
 */
export async function updateKey(
  tx: Transaction,
  id: string,
  changes: KeyChanges,
  access: KeyAccess,
  auditAction: string,
): Promise<ReturnType<typeof apiKeyMetadata>> {
  const before = await visibleKey(tx, access, id);
  // A refill on a key with no credits yet starts it full.
  const effective = changes.refill && changes.remaining === undefined && before.remaining === null
    ? { ...changes, remaining: changes.refill.amount }
    : changes;
  const [{ outcome }] = await tx<{ outcome: string }[]>`
    select latchkey.update_api_key(${id}, ${tx.json(effective as never)}) as outcome`;
  if (outcome === "not_found") throw new ApiError("not_found", { message: noSuchKey });
  if (outcome === "forbidden") throw access.forbidden;
  if (outcome === "not_cacheable") throw notCacheable();
  if (outcome === "admin_locked") {
    throw new ApiError("forbidden", {
      message: "An admin disabled this key or set its metadata; only an admin can change that.",
    });
  }
  if (outcome === "own_network_limits") {
    throw new ApiError("forbidden", {
      message: "A key cannot change its own network limits: its owner's session or an admin " +
        "can.",
    });
  }
  await tx`
    select latchkey.record_audit_event(${auditAction}, 'api_key', ${id},
      jsonb_build_object('changed', to_jsonb(${Object.keys(effective)}::text[]))
        || ${tx.json({ ...networkLimitsSet(effective), ...ownerDetail(before) })}::jsonb)`;
  return apiKeyMetadata(await keyById(tx, id));
}

const maxBuckets = { hour: 24 * 31, day: 366 } as const;
const bucketMs = { hour: 3600_000, day: 24 * 3600_000 } as const;

export const keyUsageQuery = z.strictObject({
  since: z.iso.datetime({ offset: true }).optional().meta({
    description: "Start (default: 24 hours before `until` by hour, 30 days by day).",
  }),
  until: z.iso.datetime({ offset: true }).optional().meta({ description: "End (default: now)." }),
  granularity: z.enum(["hour", "day"]).default("hour"),
}).transform((query, context) => {
  const until = query.until ? Date.parse(query.until) : Date.now();
  const since = query.since
    ? Date.parse(query.since)
    : until - (query.granularity === "hour" ? 24 : 30 * 24) * 3600_000;
  if (since >= until) {
    context.addIssue({ code: "custom", path: ["since"], message: "since must precede until." });
    return z.NEVER;
  }
  if ((until - since) / bucketMs[query.granularity] > maxBuckets[query.granularity]) {
    context.addIssue({
      code: "custom",
      path: ["since"],
      message: `At most ${maxBuckets[query.granularity]} ${query.granularity}s at a time.`,
    });
    return z.NEVER;
  }
  return { since: new Date(since), until: new Date(until), granularity: query.granularity };
});

interface UsageBucketRow {
  start: string;
  valid: number;
  rate_limited: number;
  rejected: number;
}

/** A key's verifications per bucket, every bucket of the range present. */
export interface KeyUsage {
  keyId: string;
  granularity: "hour" | "day";
  buckets: { start: string; valid: number; rateLimited: number; rejected: number }[];
}

/**
 * Verifications of the key per hour or day (UTC), every bucket of the range present, empty
 * ones as zeros, read as the caller (the usage rows' policy defers to the key's).
 */
export async function keyUsage(
  tx: Transaction,
  id: string,
  query: z.output<typeof keyUsageQuery>,
  access: KeyAccess,
): Promise<KeyUsage> {
  const step = query.granularity === "hour" ? "1 hour" : "24 hours";
  await visibleKey(tx, access, id);
  // The hours that are over are history; the current one (and a previous one not yet
  // saved) is still on the key's meter row.
  const rows = await tx<UsageBucketRow[]>`
    with counts as (
      select hour, valid, rate_limited, rejected from latchkey.api_key_usage
      where key_id = ${id}
      union all
      select hour, valid, rate_limited, rejected from latchkey.api_key_meters
      where key_id = ${id}
      union all
      select prev_hour, prev_valid, prev_rate_limited, prev_rejected
      from latchkey.api_key_meters
      where key_id = ${id} and not prev_saved and prev_hour is not null
    )
    select to_char(s.start at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as start,
      coalesce(sum(u.valid), 0)::int as valid,
      coalesce(sum(u.rate_limited), 0)::int as rate_limited,
      coalesce(sum(u.rejected), 0)::int as rejected
    from generate_series(
      date_trunc(${query.granularity}, ${query.since.toISOString()}::timestamptz, 'UTC'),
      ${query.until.toISOString()}::timestamptz, ${step}::interval
    ) as s (start)
    left join counts u on u.hour >= s.start and u.hour < s.start + ${step}::interval
    group by s.start
    order by s.start`;
  return {
    keyId: id,
    granularity: query.granularity,
    buckets: rows.map((row) => ({
      start: row.start,
      valid: row.valid,
      rateLimited: row.rate_limited,
      rejected: row.rejected,
    })),
  };
}
