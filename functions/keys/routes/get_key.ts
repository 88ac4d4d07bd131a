import { Hono } from "hono";
import { apiKeyColumns, apiKeyMetadata, type ApiKeyRow } from "../../_shared/api_keys.ts";
import { requireCredential } from "../../_shared/authenticate.ts";
import { type AppEnv, asCaller } from "../../_shared/http.ts";
import { pathId } from "../../_shared/ids.ts";
import { ApiError } from "../../_shared/errors.ts";

const noSuchKey = "No such API key.";

export const getKeyRoute = new Hono<AppEnv>().get("/:id", requireCredential, async (c) => {
  const principal = c.get("principal");
  const id = pathId(c.req.param("id"), noSuchKey);
  const [row] = await asCaller(c, (tx) =>
    tx<ApiKeyRow[]>`
      select ${tx(apiKeyColumns)}
      from latchkey.api_keys
      where id = ${id} and user_id = ${principal.userId}`);
  if (!row) throw new ApiError("not_found", { message: noSuchKey });
  return c.json(apiKeyMetadata(row));
});
