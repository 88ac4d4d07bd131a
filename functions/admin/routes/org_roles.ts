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
  orgRoles,
  roleNameParam,
  roleView,
  updateRole,
  updateRoleBody,
} from "../role_catalogue.ts";

// Organization roles (issue 29, item 3), the same in every organization: owner, admin and member
// are built in; the platform's staff add custom ones, which members with members:write or
// members:invite then give (PATCH /orgs/:id/members/:userId, POST /orgs/:id/invitations) to
// roles within their own reach, as the built-in ones. A sibling of /admin/roles with the same
// shapes: an organization role and a platform role may share a name (admin), and they are drawn
// from separate catalogues (GET answers this one's).

const writerNote = "and orgs:write: organization roles change what members may do in every " +
  "organization";

export const listOrgRolesRoute = defineRoute({
  method: "get",
  path: "/org-roles",
  summary: "List the organization roles and the organization permission catalogue",
  auth: adminCredentials,
  permission: "roles:read",
  responses: {
    200: "`{roles: [{name, description, builtIn, permissions, createdAt, updatedAt}], " +
      "permissions: [{name, description}]}`: owner, admin and member first; `permissions` is " +
      "what an organization role may hold.",
  },
}, async (c) => {
  const [roles, permissions] = await asCaller(c, async (tx) =>
    [
      await listRoles(tx, orgRoles),
      await tx<{ name: string; description: string }[]>`
      select name, description from latchkey.org_permissions order by name`,
    ] as const);
  return c.json({ roles: roles.map(roleView), permissions });
});

export const createOrgRoleRoute = defineRoute({
  method: "post",
  path: "/org-roles",
  idempotent: true,
  summary: "Create an organization role with its organization permissions",
  auth: adminCredentials,
  permission: "roles:write",
  permissionNote: writerNote,
  body: createRoleBody,
  stepUp: stepUpWhen(
    createRoleBody,
    "`permissions` is not empty",
    (body) => body.permissions.length > 0,
    { name: "billing", permissions: ["org:read"] },
  ),
  responses: {
    201: "`{role}`: members are given it by those who reach it in their organization.",
    400: "Invalid body; a permission the organization catalogue lacks.",
    403: "Without orgs:write.",
    409: "`already_exists`: an organization role by this name exists; or Idempotency-Key " +
      "reused.",
  },
}, async (c, { body }) => {
  return await alreadyExistsOnRace(
    body.name,
    respondIdempotently(c, async (tx) => ({
      status: 201,
      body: { role: roleView(await createRole(c, tx, orgRoles, body)) },
    })),
  );
});

export const updateOrgRoleRoute = defineRoute({
  method: "patch",
  path: "/org-roles/:name",
  summary: "Change an organization role's description or its whole permission set",
  auth: adminCredentials,
  permission: "roles:write",
  permissionNote: writerNote,
  body: updateRoleBody,
  stepUp: { when: "the new set adds a permission the role did not hold" },
  responses: {
    200: "`{role}`. Its members, in every organization, have the new set from their next " +
      "request.",
    400: "Invalid body; a permission the organization catalogue lacks.",
    403: "Without orgs:write.",
    404: "No such organization role.",
    409: "`built_in`: owner's set is fixed (it holds every organization permission).",
  },
}, async (c, { body }) => {
  const name = roleNameParam(c, orgRoles);
  const role = await asCaller(c, (tx) => updateRole(c, tx, orgRoles, name, body));
  return c.json({ role: roleView(role) });
});

export const deleteOrgRoleRoute = defineRoute({
  method: "delete",
  path: "/org-roles/:name",
  summary: "Delete an organization role no member and no open invitation holds",
  auth: adminCredentials,
  permission: "roles:write",
  permissionNote: writerNote,
  responses: {
    200: "`{success: true, name}`; its closed invitations go with it (the audit log keeps them).",
    403: "Without orgs:write.",
    404: "No such organization role.",
    409: "`built_in`: owner, admin and member are never deleted; `in_use`: members or open " +
      "invitations hold it (the message counts them).",
  },
}, async (c) => {
  const name = roleNameParam(c, orgRoles);
  await asCaller(c, (tx) => deleteRole(c, tx, orgRoles, name));
  return c.json({ success: true, name });
});
