import { apiKeyColumns, apiKeyMetadata, type ApiKeyRow } from "../../_shared/keys/api_keys.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";

export const listKeysRoute = defineRoute({
  method: "get",
  path: "/",
  summary: "The caller's keys",
  auth: ["session", "apiKey"],
  responses: { 200: "`{success: true, keys, total}`.", 429: "Rate limited." },
}, async (c) => {
  const principal = c.get("principal");
  const rows = await asCaller(c, (tx) =>
    tx<ApiKeyRow[]>`
      select ${tx(apiKeyColumns)}
      from latchkey.api_keys
      where user_id = ${principal.userId}
      order by created_at desc, id desc`);
  return c.json({ success: true, keys: rows.map(apiKeyMetadata), total: rows.length });
});
