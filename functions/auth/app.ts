import { createFunctionApp } from "../_shared/http.ts";
import { openApiDocument } from "../_shared/openapi.ts";
import { authRouteDocs } from "./route_docs.ts";
import { changePasswordRoute } from "./routes/change_password.ts";
import { revokeOtherSessionsRoute } from "./routes/revoke_other_sessions.ts";
import { sessionRoute } from "./routes/session.ts";
import { sessionsRoute } from "./routes/sessions.ts";
import { signInRoute } from "./routes/sign_in.ts";
import { signOutRoute } from "./routes/sign_out.ts";
import { signUpRoute } from "./routes/sign_up.ts";

/** Function `auth`: accounts and sessions (API.md, "Function auth"). */
export const app = createFunctionApp("auth")
  .get("/openapi.json", (c) => c.json(openApiDocument({ auth: authRouteDocs })))
  .route("/", signUpRoute)
  .route("/", signInRoute)
  .route("/", signOutRoute)
  .route("/", sessionRoute)
  .route("/", sessionsRoute)
  .route("/", revokeOtherSessionsRoute)
  .route("/", changePasswordRoute);
