import { Hono } from "hono";
import { apiKeyMetadata, type ApiKeyRow } from "../../_shared/api_keys.ts";
import { requireCredential } from "../../_shared/authenticate.ts";
import { withCaller } from "../../_shared/database.ts";
import { type AppEnv, requestInfo } from "../../_shared/http.ts";
import { pathId } from "../../_shared/ids.ts";
import { ApiError } from "../../_shared/errors.ts";

const noSuchKey = "No such API key.";

export const getKeyRoute = new Hono<AppEnv>().get("/:id", requireCredential, async (c) => {
  const principal = c.get("principal");
  const id = pathId(c.req.param("id"), noSuchKey);
  const [row] = await withCaller(
    c.get("runtime").sql,
    principal,
    requestInfo(c),
    (tx) =>
      tx<ApiKeyRow[]>`
      select id, user_id, name, key_prefix, scopes, key_type, rate_limit_per_minute,
        expires_at, last_used_at, revoked_at, created_at
      from latchkey.api_keys
      where id = ${id} and user_id = ${principal.userId}`,
  );
  if (!row) throw new ApiError("not_found", { message: noSuchKey });
  return c.json(apiKeyMetadata(row));
});
