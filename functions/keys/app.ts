import { functionApp } from "../_shared/routes.ts";
import { createKeyRoute } from "./routes/create_key.ts";
import { getKeyRoute } from "./routes/get_key.ts";
import { listKeysRoute } from "./routes/list_keys.ts";
import { revokeKeyRoute } from "./routes/revoke_key.ts";
import { verifyKeyRoute } from "./routes/verify_key.ts";

/** The `keys` routes (API.md, "Function keys"); `/verify` before `/:id`, which would take it. */
export const keysRoutes = [
  verifyKeyRoute,
  createKeyRoute,
  listKeysRoute,
  getKeyRoute,
  revokeKeyRoute,
];

/** Function `keys`: self-service API keys and verification. */
export const app = functionApp("keys", keysRoutes);
