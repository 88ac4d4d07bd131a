import { rotateKey, rotateKeyBody } from "../../_shared/keys/key_lifecycle.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { respondIdempotently } from "../../_shared/http/idempotency.ts";
import { ownKeyAccess, ownKeyId } from "../own_key.ts";

// A session only, like minting: a leaked key must not be able to renew itself.
export const rotateKeyRoute = defineRoute({
  method: "post",
  path: "/:id/rotate",
  notifies: true,
  idempotent: true,
  summary: "Rotate one of the caller's keys: a new secret, the old one works for the overlap; " +
    "Idempotency-Key honoured",
  auth: ["session"],
  body: rotateKeyBody,
  stepUp: {
    when: "the key holds an admin permission (its successor is a new admin-scoped key; the " +
      "database refuses it)",
  },
  responses: {
    201: "The new key's metadata with `key` (once; null on an idempotent replay) and " +
      "`previousKey: {id, expiresAt}`.",
    403: "An API key cannot rotate keys: sign in for a session.",
    404: "No such key of yours.",
    409: "`key_not_rotatable`: revoked, expired or rotated already; or Idempotency-Key reused " +
      "with another request.",
  },
}, async (c, { body }) => {
  const [id, access] = [ownKeyId(c), ownKeyAccess(c)];
  const keyPrefix = c.get("runtime").config.LATCHKEY_KEY_PREFIX;
  return await respondIdempotently(c, async (tx) => {
    const rotated = await rotateKey(tx, id, body, access, {
      keyPrefix,
      auditAction: "api_key.rotated",
    });
    return {
      status: 201,
      body: { success: true, ...rotated.metadata, key: rotated.key },
      replayBody: { success: true, ...rotated.metadata, key: null },
    };
  });
});
