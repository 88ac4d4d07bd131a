import { Hono } from "hono";
import { apiKeyColumns, apiKeyMetadata, type ApiKeyRow } from "../../_shared/api_keys.ts";
import { requireCredential } from "../../_shared/authenticate.ts";
import { type AppEnv, asCaller } from "../../_shared/http.ts";

export const listKeysRoute = new Hono<AppEnv>().get("/", requireCredential, async (c) => {
  const principal = c.get("principal");
  const rows = await asCaller(c, (tx) =>
    tx<ApiKeyRow[]>`
      select ${tx(apiKeyColumns)}
      from latchkey.api_keys
      where user_id = ${principal.userId}
      order by created_at desc, id desc`);
  return c.json({ success: true, keys: rows.map(apiKeyMetadata), total: rows.length });
});
