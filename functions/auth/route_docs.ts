import type { RouteDoc } from "../_shared/openapi.ts";
import { changePasswordBody } from "./routes/change_password.ts";
import { signInBody } from "./routes/sign_in.ts";
import { signUpBody } from "./routes/sign_up.ts";

const unauthorized = "Missing, invalid, expired or revoked credential.";
const sessionOnly = "An API key was sent; this needs an interactive session.";

/** The `auth` routes, as OpenAPI documents them. */
export const authRouteDocs: RouteDoc[] = [
  {
    method: "post",
    path: "/sign-up/email",
    summary: "Create an account and a session",
    auth: [],
    body: signUpBody,
    responses: {
      200: "`{user, session}`; the session token is also set as a cookie.",
      400: "Invalid body (role and tier are refused).",
      409: "The email cannot be used.",
    },
  },
  {
    method: "post",
    path: "/sign-in/email",
    summary: "Sign in with email and password",
    auth: [],
    body: signInBody,
    responses: {
      200: "`{user, session}`; sets the session cookie.",
      400: "Invalid body.",
      401: "Wrong email or password (the same answer for both).",
      403: "The account is suspended.",
      429: "Too many failed sign-ins for this email; see Retry-After.",
    },
  },
  {
    method: "post",
    path: "/sign-out",
    summary: "End this session (no body needed)",
    auth: ["session"],
    responses: { 200: "`{success: true}`.", 401: unauthorized, 403: sessionOnly },
  },
  {
    method: "get",
    path: "/session",
    summary: "Who is calling",
    auth: ["session", "apiKey"],
    responses: {
      200: "`{user, session}`, or `{user, session: null, apiKey}` for an API key.",
      401: unauthorized,
    },
  },
  {
    method: "get",
    path: "/sessions",
    summary: "The caller's active sessions",
    auth: ["session", "apiKey"],
    responses: { 200: "`{sessions}` (no tokens).", 401: unauthorized },
  },
  {
    method: "post",
    path: "/sessions/revoke-others",
    summary: "Revoke every other session",
    auth: ["session"],
    responses: { 200: "`{success: true, revoked}`.", 401: unauthorized, 403: sessionOnly },
  },
  {
    method: "post",
    path: "/change-password",
    summary: "Change the password; other sessions are revoked",
    auth: ["session"],
    body: changePasswordBody,
    responses: {
      200: "`{success: true}`.",
      400: "Invalid body or wrong current password.",
      401: unauthorized,
      403: sessionOnly,
    },
  },
];
