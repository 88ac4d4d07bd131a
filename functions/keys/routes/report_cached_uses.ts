import { z } from "zod";
import { isWellFormedApiKey } from "../../_shared/keys/api_key_format.ts";
import { sha256Hex } from "../../_shared/ground/crypto.ts";
import { withStatementTimeout } from "../../_shared/db/database.ts";
import { defineRoute } from "../../_shared/api/routes.ts";

export const cachedUsesBody = z.strictObject({
  uses: z.array(z.strictObject({
    key: z.string().max(512, "An API key is at most 512 characters.")
      .refine(isWellFormedApiKey, "Not a Latchkey API key (its shape or checksum is wrong).")
      .meta({ examples: ["lk_<a key your verifier answered from its cache>"] }),
    count: z.int().min(1).max(1_000_000).meta({ examples: [120] }),
    lastUsedAt: z.iso.datetime({ offset: true }).meta({
      description: "The last of those uses (a time ahead of Latchkey's clock counts as now).",
    }),
  })).min(1).max(100),
});

export const cachedUsesAnswer = z.object({
  recorded: z.int().meta({ description: "How many of the reported keys' uses were recorded." }),
});

// A verifier that answers a cacheable key from its cache (withLatchkey) reports those uses here
// in batches, so the key's last use and usage history stay true. The keys themselves are the
// credential: only a holder of a key can report its use, and only the uses a check could have
// let through count (latchkey.record_cached_key_uses). Nothing is charged or audited, as a VALID
// verification is neither.
export const reportCachedUsesRoute = defineRoute({
  method: "post",
  path: "/cached-uses",
  summary: "Report uses of keys a verifier answered from its cache (the keys are the credential)",
  auth: [],
  body: cachedUsesBody,
  answer: cachedUsesAnswer,
  responses: {
    200: "`{recorded}`: each recorded key's uses count as VALID verifications of the current " +
      "hour and move its last use. Left out: unknown keys, keys with a rate limit or credits " +
      "(never cached), keys revoked or expired more than 10 minutes ago.",
  },
}, async (c, { body }) => {
  const { sql } = c.get("runtime");
  const uses = body.uses.map(({ key, count, lastUsedAt }) => ({
    hash: sha256Hex(key),
    count,
    lastUsedAt,
  }));
  const [{ recorded }] = await withStatementTimeout(
    sql,
    sql<{ recorded: number }[]>`
      select latchkey.record_cached_key_uses(${sql.json(uses)}) as recorded`,
  );
  return c.json({ recorded }, 200);
});
