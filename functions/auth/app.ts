import { functionApp } from "../_shared/routes.ts";
import { changePasswordRoute } from "./routes/change_password.ts";
import { revokeOtherSessionsRoute } from "./routes/revoke_other_sessions.ts";
import { sessionRoute } from "./routes/session.ts";
import { sessionsRoute } from "./routes/sessions.ts";
import { signInRoute } from "./routes/sign_in.ts";
import { signOutRoute } from "./routes/sign_out.ts";
import { signUpRoute } from "./routes/sign_up.ts";

/** The `auth` routes (API.md, "Function auth"). */
export const authRoutes = [
  signUpRoute,
  signInRoute,
  signOutRoute,
  sessionRoute,
  sessionsRoute,
  revokeOtherSessionsRoute,
  changePasswordRoute,
];

/** Function `auth`: accounts and sessions. */
export const app = functionApp("auth", authRoutes);
