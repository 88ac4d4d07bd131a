import { asCaller } from "../../_shared/http/request.ts";
import { respondIdempotently } from "../../_shared/http/idempotency.ts";
import { stepUpWhen } from "../../_shared/http/openapi.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { adminCredentials } from "../admin_credentials.ts";
import {
  alreadyExistsOnRace,
  createRole,
  createRoleBody,
  deleteRole,
  listRoles,
  platformRoles,
  roleNameParam,
  roleView,
  updateRole,
  updateRoleBody,
} from "../role_catalogue.ts";

// Platform roles (issue 29, item 3): user, support and admin are built in; the team adds its own
// and gives them to accounts (PATCH /admin/users/:id {role}). Nobody puts into a role, or
// changes or deletes a role holding, a permission they do not hold themselves.

export const listRolesRoute = defineRoute({
  method: "get",
  path: "/roles",
  summary: "List the platform roles with their permissions",
  auth: adminCredentials,
  permission: "roles:read",
  responses: {
    200: "`{roles: [{name, description, builtIn, permissions, createdAt, updatedAt}]}`, the " +
      "built-in ones (user, support, admin) first; every role, not paged (a catalogue is small).",
  },
}, async (c) => {
  const roles = await asCaller(c, (tx) => listRoles(tx, platformRoles));
  return c.json({ roles: roles.map(roleView) });
});

export const createRoleRoute = defineRoute({
  method: "post",
  path: "/roles",
  idempotent: true,
  summary: "Create a platform role with its permissions",
  auth: adminCredentials,
  permission: "roles:write",
  permissionNote: "and every permission the role is given",
  body: createRoleBody,
  stepUp: stepUpWhen(
    createRoleBody,
    "`permissions` is not empty",
    (body) => body.permissions.length > 0,
    { name: "billing", permissions: ["users:read"] },
  ),
  responses: {
    201: "`{role}`: its holders are accounts given it (PATCH /admin/users/:id {role}).",
    400: "Invalid body; a permission the catalogue lacks (`details` names it).",
    403: "A permission the caller does not hold (the message names it).",
    409: "`already_exists`: a role by this name exists; or Idempotency-Key reused.",
  },
}, async (c, { body }) => {
  return await alreadyExistsOnRace(
    body.name,
    respondIdempotently(c, async (tx) => ({
      status: 201,
      body: { role: roleView(await createRole(c, tx, platformRoles, body)) },
    })),
  );
});

export const updateRoleRoute = defineRoute({
  method: "patch",
  path: "/roles/:name",
  summary: "Change a platform role's description or its whole permission set",
  auth: adminCredentials,
  permission: "roles:write",
  permissionNote: "and every permission the role holds and is given (the caller's reach)",
  body: updateRoleBody,
  // Whether a permission is added depends on the role's stored set: the handler (and the
  // database's trigger) decide.
  stepUp: { when: "the new set adds a permission the role did not hold" },
  responses: {
    200: "`{role}`. Its holders' sessions and keys have the new set from their next request.",
    400: "Invalid body; a permission the catalogue lacks.",
    403: "The role holds, or is given, a permission the caller lacks.",
    404: "No such role.",
    409: "`built_in`: admin's set is fixed (it holds every permission).",
  },
}, async (c, { body }) => {
  const name = roleNameParam(c, platformRoles);
  const role = await asCaller(c, (tx) => updateRole(c, tx, platformRoles, name, body));
  return c.json({ role: roleView(role) });
});

export const deleteRoleRoute = defineRoute({
  method: "delete",
  path: "/roles/:name",
  summary: "Delete a platform role nobody holds",
  auth: adminCredentials,
  permission: "roles:write",
  permissionNote: "and every permission the role holds",
  responses: {
    200: "`{success: true, name}`.",
    403: "The role holds a permission the caller lacks.",
    404: "No such role.",
    409: "`built_in`: user, support and admin are never deleted; `in_use`: accounts hold it " +
      "(the message counts them).",
  },
}, async (c) => {
  const name = roleNameParam(c, platformRoles);
  await asCaller(c, (tx) => deleteRole(c, tx, platformRoles, name));
  return c.json({ success: true, name });
});
