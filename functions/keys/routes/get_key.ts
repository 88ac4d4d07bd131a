import { readKey } from "../../_shared/keys/key_lifecycle.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { ownKeyAccess, ownKeyId } from "../own_key.ts";

export const getKeyRoute = defineRoute({
  method: "get",
  path: "/:id",
  summary: "One of the caller's keys",
  auth: ["session", "apiKey"],
  responses: { 200: "Key metadata.", 404: "No such key of yours." },
}, async (c) => {
  const [id, access] = [ownKeyId(c), ownKeyAccess(c)];
  return c.json(await asCaller(c, (tx) => readKey(tx, id, access)));
});
