import {
  enablingAdminKeyStepUp,
  ownerKeyPatch,
  updateKey,
} from "../../_shared/keys/key_lifecycle.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { ownKeyAccess, ownKeyId } from "../own_key.ts";

export const updateKeyRoute = defineRoute({
  method: "patch",
  path: "/:id",
  summary: "Rename, disable or enable one of the caller's keys, set its metadata, its cache or " +
    "its network limits",
  auth: ["session", "apiKey"],
  body: ownerKeyPatch,
  stepUp: enablingAdminKeyStepUp,
  responses: {
    200: "The key's metadata after the change.",
    400: "Invalid body; `cacheSeconds` for a key with a rate limit or credits.",
    403: "`interactive_session_required`: an API key may change only itself; `forbidden`: an " +
      "admin disabled the key or set its metadata, and only an admin can change that; or a key " +
      "tried to change its own network limits (only its owner's session or an admin may).",
    404: "No such key of yours.",
  },
}, async (c, { body }) => {
  const [id, access] = [ownKeyId(c), ownKeyAccess(c)];
  const updated = await asCaller(c, (tx) => updateKey(tx, id, body, access, "api_key.updated"));
  return c.json({ success: true, ...updated });
});
