import { createFunctionApp } from "../_shared/http.ts";
import { openApiDocument } from "../_shared/openapi.ts";
import { keysRouteDocs } from "./route_docs.ts";
import { createKeyRoute } from "./routes/create_key.ts";
import { getKeyRoute } from "./routes/get_key.ts";
import { listKeysRoute } from "./routes/list_keys.ts";
import { revokeKeyRoute } from "./routes/revoke_key.ts";
import { verifyKeyRoute } from "./routes/verify_key.ts";

/** Function `keys`: self-service API keys and verification (API.md, "Function keys"). */
export const app = createFunctionApp("keys")
  // Before `/:id`, which would otherwise take it.
  .get("/openapi.json", (c) => c.json(openApiDocument({ keys: keysRouteDocs })))
  .route("/", verifyKeyRoute)
  .route("/", createKeyRoute)
  .route("/", listKeysRoute)
  .route("/", getKeyRoute)
  .route("/", revokeKeyRoute);
