import { authenticate } from "../_shared/authenticate.ts";
import { createFunctionApp } from "../_shared/http.ts";
import { openApiDocument } from "../_shared/openapi.ts";
import { adminRouteDocs } from "./route_docs.ts";
import { createKeyRoute, listKeysRoute, revokeKeyRoute } from "./routes/admin_keys.ts";
import { createUserRoute } from "./routes/create_user.ts";
import { deleteUserRoute } from "./routes/delete_user.ts";
import { getUserRoute } from "./routes/get_user.ts";
import { listAuditRoute } from "./routes/list_audit.ts";
import { listUsersRoute } from "./routes/list_users.ts";
import { setPasswordRoute } from "./routes/set_password.ts";
import { updateUserRoute } from "./routes/update_user.ts";
import { listUserSessionsRoute, revokeUserSessionsRoute } from "./routes/user_sessions.ts";

/**
 * Function `admin` (API.md, "Function admin"). Any credential is a principal — a session, an
 * API key whose effective permissions cover the route, or X-Admin-Key — and each route checks
 * one permission: missing credentials are 401, missing permissions 403.
 */
const app = createFunctionApp("admin");
// Registered before the credential check, so the description of the API needs none.
app.get(
  "/openapi.json",
  (c) => c.json(openApiDocument({ admin: adminRouteDocs })),
);
app.use(authenticate({ adminKey: true }));

const routed = app
  .route("/", listUsersRoute)
  .route("/", createUserRoute)
  .route("/", getUserRoute)
  .route("/", updateUserRoute)
  .route("/", setPasswordRoute)
  .route("/", deleteUserRoute)
  .route("/", listUserSessionsRoute)
  .route("/", revokeUserSessionsRoute)
  .route("/", listKeysRoute)
  .route("/", createKeyRoute)
  .route("/", revokeKeyRoute)
  .route("/", listAuditRoute);

export { routed as app };
