import {
  enablingAdminKeyStepUp,
  keyUsage,
  keyUsageQuery,
  rotateKey,
  rotateKeyBody,
  updateKey,
  writerKeyPatch,
} from "../../_shared/keys/key_lifecycle.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { respondIdempotently } from "../../_shared/http/idempotency.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { adminCredentials } from "../admin_credentials.ts";
import { anyKeyAccess, anyKeyId as keyId, beyondReach } from "../any_key.ts";

export const updateKeyRoute = defineRoute({
  method: "patch",
  path: "/keys/:id",
  summary: "Change any key: name, enabled, metadata, rate limit (or none), credits and refill, " +
    "cache and network limits",
  auth: adminCredentials,
  permission: "keys:write",
  permissionNote: "; the caller must hold every permission of the owner's role",
  body: writerKeyPatch,
  stepUp: enablingAdminKeyStepUp,
  responses: {
    200: "The key's metadata after the change.",
    400: "Invalid body; `cacheSeconds` for a key with a rate limit or credits (after the " +
      "change).",
    403: beyondReach,
    404: "No such key.",
  },
}, async (c, { body }) => {
  const id = keyId(c);
  const updated = await asCaller(
    c,
    (tx) => updateKey(tx, id, body, anyKeyAccess(), "admin.key_updated"),
  );
  return c.json({ success: true, ...updated });
});

export const rotateKeyRoute = defineRoute({
  method: "post",
  path: "/keys/:id/rotate",
  notifies: true,
  idempotent: true,
  summary: "Rotate any key: a new secret, the old one works for the overlap; " +
    "Idempotency-Key honoured",
  auth: adminCredentials,
  permission: "keys:write",
  permissionNote: "; the caller must hold every permission of the owner's role",
  body: rotateKeyBody,
  stepUp: {
    when: "the key holds an admin permission (its successor is a new admin-scoped key; the " +
      "database refuses it)",
  },
  responses: {
    201: "The new key's metadata with `key` (once; null on an idempotent replay) and " +
      "`previousKey: {id, expiresAt}`.",
    403: beyondReach,
    404: "No such key.",
    409: "`key_not_rotatable`: revoked, expired or rotated already; or Idempotency-Key reused " +
      "with another request.",
  },
}, async (c, { body }) => {
  const id = keyId(c);
  const keyPrefix = c.get("runtime").config.LATCHKEY_KEY_PREFIX;
  return await respondIdempotently(c, async (tx) => {
    const rotated = await rotateKey(tx, id, body, anyKeyAccess(), {
      keyPrefix,
      auditAction: "admin.key_rotated",
    });
    return {
      status: 201,
      body: { success: true, ...rotated.metadata, key: rotated.key },
      replayBody: { success: true, ...rotated.metadata, key: null },
    };
  });
});

export const keyUsageRoute = defineRoute({
  method: "get",
  path: "/keys/:id/usage",
  summary: "Verifications of any key, per hour or day",
  auth: adminCredentials,
  permission: "keys:read",
  query: keyUsageQuery,
  responses: {
    200: "`{keyId, granularity, buckets: [{start, valid, rateLimited, rejected}]}`.",
    404: "No such key.",
  },
}, async (c, { query }) => {
  const id = keyId(c);
  return c.json(await asCaller(c, (tx) => keyUsage(tx, id, query, anyKeyAccess())));
});
