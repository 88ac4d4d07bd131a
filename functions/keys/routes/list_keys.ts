import { Hono } from "hono";
import { apiKeyMetadata, type ApiKeyRow } from "../../_shared/api_keys.ts";
import { requireCredential } from "../../_shared/authenticate.ts";
import { withCaller } from "../../_shared/database.ts";
import { type AppEnv, requestInfo } from "../../_shared/http.ts";

export const listKeysRoute = new Hono<AppEnv>().get("/", requireCredential, async (c) => {
  const principal = c.get("principal");
  const rows = await withCaller(
    c.get("runtime").sql,
    principal,
    requestInfo(c),
    (tx) =>
      tx<ApiKeyRow[]>`
      select id, user_id, name, key_prefix, scopes, key_type, rate_limit_per_minute,
        expires_at, last_used_at, revoked_at, created_at
      from latchkey.api_keys
      where user_id = ${principal.userId}
      order by created_at desc, id desc`,
  );
  return c.json({ success: true, keys: rows.map(apiKeyMetadata), total: rows.length });
});
