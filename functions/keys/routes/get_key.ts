import { apiKeyColumns, apiKeyMetadata, type ApiKeyRow } from "../../_shared/keys/api_keys.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { pathId } from "../../_shared/http/ids.ts";
import { ApiError } from "../../_shared/ground/errors.ts";
import { defineRoute } from "../../_shared/api/routes.ts";

const noSuchKey = "No such API key.";

export const getKeyRoute = defineRoute({
  method: "get",
  path: "/:id",
  summary: "One of the caller's keys",
  auth: ["session", "apiKey"],
  responses: { 200: "Key metadata.", 404: "No such key of yours." },
}, async (c) => {
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
