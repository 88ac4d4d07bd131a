import type { Credential, RouteDoc } from "../_shared/openapi.ts";
import { createKeyBody, listKeysQuery } from "./routes/admin_keys.ts";
import { createUserBody } from "./routes/create_user.ts";
import { listAuditQuery } from "./routes/list_audit.ts";
import { listUsersQuery } from "./routes/list_users.ts";
import { setPasswordBody } from "./routes/set_password.ts";
import { updateUserBody } from "./routes/update_user.ts";

const auth: Credential[] = ["session", "apiKey", "adminKey"];
const denied = {
  401: "Missing or invalid credential (or a wrong X-Admin-Key).",
  403: "The credential lacks the permission.",
};
const noUser = "No such user.";

/** The `admin` routes, as OpenAPI documents them. */
export const adminRouteDocs: RouteDoc[] = [
  {
    method: "get",
    path: "/users",
    summary: "List users (newest first, cursor-paginated)",
    auth,
    permission: "users:read",
    query: listUsersQuery,
    responses: { 200: "`{users, limit, nextCursor}`.", 400: "Invalid query.", ...denied },
  },
  {
    method: "post",
    path: "/users",
    summary: "Create a user or a service account; Idempotency-Key honoured",
    auth,
    permission: "users:write (roles:write for a role)",
    body: createUserBody,
    responses: {
      201: "`{user}`.",
      400: "Invalid body.",
      ...denied,
      409: "The email exists, or Idempotency-Key reused.",
    },
  },
  {
    method: "get",
    path: "/users/:id",
    summary: "One user, with account state",
    auth,
    permission: "users:read",
    responses: { 200: "`{user}`.", ...denied, 404: noUser },
  },
  {
    method: "patch",
    path: "/users/:id",
    summary: "Change name, role, tier or ban",
    auth,
    permission: "users:write (roles:write for role)",
    body: updateUserBody,
    responses: {
      200: "`{user}`.",
      400: "Invalid body.",
      ...denied,
      404: noUser,
      409: "The last active admin cannot be demoted or banned.",
    },
  },
  {
    method: "post",
    path: "/users/:id/password",
    summary: "Set a user's password; their sessions are revoked",
    auth,
    permission: "users:write",
    body: setPasswordBody,
    responses: { 200: "`{success: true}`.", 400: "Invalid body.", ...denied, 404: noUser },
  },
  {
    method: "delete",
    path: "/users/:id",
    summary: "Delete a user, their keys and sessions",
    auth,
    permission: "users:write",
    responses: {
      200: "`{success: true}`.",
      ...denied,
      404: noUser,
      409: "The last active admin cannot be deleted.",
    },
  },
  {
    method: "get",
    path: "/users/:id/sessions",
    summary: "A user's active sessions",
    auth,
    permission: "users:read",
    responses: { 200: "`{sessions}`.", ...denied, 404: noUser },
  },
  {
    method: "delete",
    path: "/users/:id/sessions",
    summary: "Revoke all of a user's sessions",
    auth,
    permission: "sessions:revoke",
    responses: { 200: "`{success: true, revoked}`.", ...denied, 404: noUser },
  },
  {
    method: "get",
    path: "/keys",
    summary: "List every API key",
    auth,
    permission: "keys:read",
    query: listKeysQuery,
    responses: { 200: "`{keys, limit, nextCursor}`.", 400: "Invalid query.", ...denied },
  },
  {
    method: "post",
    path: "/keys",
    summary: "Create a key for any user (keyType human, ci or integration)",
    auth,
    permission: "keys:write",
    body: createKeyBody,
    responses: {
      201: "The key's metadata with `key` (once) and `keyType`.",
      400: "Invalid body, unknown user or scopes beyond the owner's role.",
      ...denied,
      409: "Idempotency-Key reused with another request.",
    },
  },
  {
    method: "post",
    path: "/keys/:id/revoke",
    summary: "Revoke any key",
    auth,
    permission: "keys:revoke",
    responses: { 200: "`{success: true, id, revokedAt}`.", ...denied, 404: "No such key." },
  },
  {
    method: "get",
    path: "/audit",
    summary: "The audit log, filtered",
    auth,
    permission: "audit:read",
    query: listAuditQuery,
    responses: { 200: "`{events, limit, nextCursor}`.", 400: "Invalid query.", ...denied },
  },
];
