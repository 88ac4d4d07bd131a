import { functionApp, type FunctionDefinition } from "../_shared/api/routes.ts";
import { createKeyRoute } from "./routes/create_key.ts";
import { getKeyRoute } from "./routes/get_key.ts";
import { keyUsageRoute } from "./routes/key_usage.ts";
import { listKeysRoute } from "./routes/list_keys.ts";
import { reportCachedUsesRoute } from "./routes/report_cached_uses.ts";
import { revokeKeyRoute } from "./routes/revoke_key.ts";
import { revokeLeakedKeyRoute } from "./routes/revoke_leaked_key.ts";
import { rotateKeyRoute } from "./routes/rotate_key.ts";
import { updateKeyRoute } from "./routes/update_key.ts";
import { verifyKeyRoute } from "./routes/verify_key.ts";

/** Function `keys` (API.md, "Function keys"); literal paths before `/:id`, which would take them. */
export const keysFunction: FunctionDefinition = {
  name: "keys",
  description: "Self-service API keys (`lk_…`, shown once, stored as SHA-256) and their " +
    "verification. Only a session mints keys; any of the owner's credentials may revoke one.",
  routes: [
    verifyKeyRoute,
    reportCachedUsesRoute,
    revokeLeakedKeyRoute,
    createKeyRoute,
    listKeysRoute,
    getKeyRoute,
    updateKeyRoute,
    revokeKeyRoute,
    rotateKeyRoute,
    keyUsageRoute,
  ],
};

export const app = functionApp(keysFunction);
