import { defineRoute } from "../../_shared/api/routes.ts";
import { respondIdempotently } from "../../_shared/http/idempotency.ts";
import { rotateKey, rotateKeyBody } from "../../_shared/keys/key_lifecycle.ts";
import { orgForKeyWriter, orgKeyAccess, orgKeyParams } from "../org_keys.ts";

export const rotateOrgKeyRoute = defineRoute({
  method: "post",
  path: "/:id/keys/:keyId/rotate",
  idempotent: true,
  summary: "Rotate one of the organization's keys: a new secret, the old one works for the " +
    "overlap; Idempotency-Key honoured",
  auth: ["session"],
  permissionNote: "keys:write in the organization (owner, admin)",
  body: rotateKeyBody,
  responses: {
    201: "The new key's metadata with `key` (once; null on an idempotent replay) and " +
      "`previousKey: {id, expiresAt}`.",
    403: "The caller's organization role lacks keys:write; `org_suspended`.",
    404: "No such key of this organization (or no such organization of yours).",
    409: "`key_not_rotatable`: revoked, expired or rotated already; or Idempotency-Key reused " +
      "with another request.",
  },
}, async (c, { body }) => {
  const { orgId, keyId } = orgKeyParams(c);
  const keyPrefix = c.get("runtime").config.LATCHKEY_KEY_PREFIX;
  return await respondIdempotently(c, async (tx) => {
    await orgForKeyWriter(tx, orgId, "Rotating a key");
    const rotated = await rotateKey(tx, keyId, body, orgKeyAccess(orgId), {
      keyPrefix,
      auditAction: "org.key_rotated",
    });
    return {
      status: 201,
      body: { success: true, ...rotated.metadata, key: rotated.key },
      replayBody: { success: true, ...rotated.metadata, key: null },
    };
  });
});
