import { z } from "zod";
import { isWellFormedApiKey } from "../../_shared/keys/api_key_format.ts";
import { sha256Hex } from "../../_shared/ground/crypto.ts";
import { requestJson, withStatementTimeout } from "../../_shared/db/database.ts";
import { ApiError } from "../../_shared/ground/errors.ts";
import { requestInfo, throttleClient } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";

export const revokeLeakedBody = z.strictObject({
  key: z.string().max(512, "An API key is at most 512 characters.")
    .refine(isWellFormedApiKey, "Not a Latchkey API key (its shape or checksum is wrong).")
    .meta({ examples: ["lk_<a key found where it should not be>"] }),
});

// Anyone who finds a key (in a repository, a log, a paste) may kill it: the key is the only
// credential, the answer is the same whether it was live, already dead or never existed, and
// a client gets LATCHKEY_LEAK_REPORTS_PER_MINUTE tries a minute.
export const revokeLeakedKeyRoute = defineRoute({
  method: "post",
  path: "/revoke-leaked",
  notifies: true,
  summary: "Revoke a leaked key (the key is the credential; no account needed)",
  auth: [],
  body: revokeLeakedBody,
  responses: {
    202: "`{accepted: true}`: if the key was live, it is revoked now (the same answer for a " +
      "key that was already revoked or never existed).",
    429: "`too_many_requests`: too many reports from this client; `Retry-After` says when.",
  },
}, async (c, { body: { key } }) => {
  const { config, sql } = c.get("runtime");
  const [{ retry_after }] = await withStatementTimeout(
    sql,
    sql<{ retry_after: number }[]>`
      select latchkey.revoke_leaked_key(decode(${sha256Hex(key)}, 'hex'),
        ${throttleClient(c)}, ${config.LATCHKEY_LEAK_REPORTS_PER_MINUTE}, '1 minute',
        ${requestJson(sql, requestInfo(c))}) as retry_after`,
  );
  if (retry_after > 0) {
    throw new ApiError("too_many_requests", {
      message: "Too many leaked-key reports from this client; retry later.",
      headers: { "Retry-After": String(retry_after) },
    });
  }
  return c.json({ accepted: true }, 202);
});
