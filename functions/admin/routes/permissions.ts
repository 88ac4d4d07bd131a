import { z } from "zod";
import { ApiError } from "../../_shared/ground/errors.ts";
import { permissionNameSchema } from "../../_shared/ground/fields.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { respondIdempotently } from "../../_shared/http/idempotency.ts";
import type { Transaction } from "../../_shared/db/database.ts";
import type { AppContext } from "../../_shared/http/context.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { adminCredentials } from "../admin_credentials.ts";
import { alreadyExistsOnRace } from "../role_catalogue.ts";
import { requireHeld } from "../../_shared/identity/reach.ts";

// The permission catalogue (issue 29, item 3): Latchkey's own permissions (built in, never
// changed here) and the team's (`notes:read`, `invoices:write`), which roles hold, keys carry as
// scopes within their owner's role, and the team's code checks (verify's `scope`, the tokens'
// claims). A new permission is held by admin at once and by nobody else until a role is given
// it.

const noSuchPermissionText = "No such permission.";

const descriptionSchema = z.string().trim().min(1, "Say what it allows.").max(500).meta({
  examples: ["Create and change invoices"],
});

export const createPermissionBody = z.strictObject({
  name: permissionNameSchema,
  description: descriptionSchema,
});

export const updatePermissionBody = z.strictObject({ description: descriptionSchema });

interface PermissionRow {
  name: string;
  description: string;
  built_in: boolean;
  roles: string[];
  created_at: Date;
  updated_at: Date;
}

function permissionView(row: PermissionRow) {
  return {
    name: row.name,
    description: row.description,
    builtIn: row.built_in,
    roles: row.roles,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function selectPermissions(tx: Transaction) {
  return tx`
    select p.name, p.description, p.built_in, p.created_at, p.updated_at,
      array(select rp.role from latchkey.role_permissions rp
        where rp.permission = p.name order by rp.role) as roles
    from latchkey.permissions p`;
}

/** The permission with its holders' names; 404 when there is none (a malformed name neither). */
async function readPermission(tx: Transaction, name: string): Promise<PermissionRow> {
  const [row] = await tx<PermissionRow[]>`${selectPermissions(tx)} where p.name = ${name}`;
  if (!row) throw new ApiError("not_found", { message: noSuchPermissionText });
  return row;
}

function permissionNameParam(c: AppContext): string {
  const parsed = permissionNameSchema.safeParse(c.req.param("name"));
  if (!parsed.success) throw new ApiError("not_found", { message: noSuchPermissionText });
  return parsed.data;
}

/**
 * The team's permission, and one the caller holds: describing or deleting it changes what admin
 * (who holds them all) holds, so only a caller holding it may (the policies say the same).
 */
function requireTeams(c: AppContext, row: PermissionRow, action: string): void {
  if (row.built_in) {
    throw new ApiError("built_in", {
      message: `${row.name} is one of Latchkey's own permissions: ${action} only the team's.`,
    });
  }
  requireHeld(c.get("principal"), [row.name]);
}

export const listPermissionsRoute = defineRoute({
  method: "get",
  path: "/permissions",
  summary: "List the permission catalogue: Latchkey's own and the team's",
  auth: adminCredentials,
  permission: "roles:read",
  responses: {
    200: "`{permissions: [{name, description, builtIn, roles, createdAt, updatedAt}]}`: " +
      "`roles` names the roles holding it; Latchkey's own first, then the team's, by name.",
  },
}, async (c) => {
  const rows = await asCaller(
    c,
    (tx) => tx<PermissionRow[]>`${selectPermissions(tx)} order by p.built_in desc, p.name`,
  );
  return c.json({ permissions: rows.map(permissionView) });
});

export const createPermissionRoute = defineRoute({
  method: "post",
  path: "/permissions",
  idempotent: true,
  summary: "Add one of the team's own permissions to the catalogue",
  auth: adminCredentials,
  permission: "roles:write",
  body: createPermissionBody,
  responses: {
    201: "`{permission}`: admin holds it at once; give it to other roles with PATCH " +
      "/admin/roles/:name, and put it on keys as a scope.",
    400: "Invalid body; a name whose resource is one of Latchkey's own (users, keys, roles, " +
      "…), which only Latchkey adds.",
    409: "`already_exists`: the catalogue has it, or it is an application scope " +
      "(LATCHKEY_SCOPES), free for any role; or Idempotency-Key reused.",
  },
}, async (c, { body }) => {
  const { config } = c.get("runtime");
  if (config.LATCHKEY_SCOPES.includes(body.name)) {
    throw new ApiError("already_exists", {
      message: `${body.name} is an application scope (LATCHKEY_SCOPES), which every role may ` +
        "put on its keys; a permission by that name would be held only through roles.",
    });
  }
  return await alreadyExistsOnRace(
    body.name,
    respondIdempotently(c, async (tx) => {
      const [{ taken, reserved }] = await tx<{ taken: boolean; reserved: boolean }[]>`
        select exists(select 1 from latchkey.permissions where name = ${body.name}) as taken,
          latchkey.reserved_permission_resource(${body.name}) as reserved`;
      if (taken) {
        throw new ApiError("already_exists", {
          message: `The catalogue has ${body.name} already.`,
        });
      }
      if (reserved) {
        throw new ApiError("validation_failed", {
          details: [{
            path: "name",
            message: `${body.name.split(":")[0]} is a resource of Latchkey's own permissions; ` +
              "name the team's another way (notes:read, invoices:write).",
          }],
        });
      }
      await tx`
        insert into latchkey.permissions (name, description, built_in)
        values (${body.name}, ${body.description}, false)`;
      await tx`
        select latchkey.record_audit_event('permission.created', 'permission', null,
          jsonb_build_object('name', ${body.name}::text, 'description', ${body.description}::text))`;
      return {
        status: 201,
        body: { permission: permissionView(await readPermission(tx, body.name)) },
      };
    }),
  );
});

export const updatePermissionRoute = defineRoute({
  method: "patch",
  path: "/permissions/:name",
  summary: "Describe one of the team's permissions anew",
  auth: adminCredentials,
  permission: "roles:write",
  permissionNote: "and the permission itself",
  body: updatePermissionBody,
  responses: {
    200: "`{permission}`.",
    403: "The caller does not hold the permission.",
    404: noSuchPermissionText,
    409: "`built_in`: Latchkey's own permissions are not changed here.",
  },
}, async (c, { body }) => {
  const name = permissionNameParam(c);
  const permission = await asCaller(c, async (tx) => {
    const before = await readPermission(tx, name);
    requireTeams(c, before, "describe");
    await tx`
      update latchkey.permissions set description = ${body.description}, updated_at = now()
      where name = ${name}`;
    await tx`
      select latchkey.record_audit_event('permission.updated', 'permission', null,
        jsonb_build_object('name', ${name}::text, 'description', jsonb_build_object(
          'before', ${before.description}::text, 'after', ${body.description}::text)))`;
    return await readPermission(tx, name);
  });
  return c.json({ permission: permissionView(permission) });
});

export const deletePermissionRoute = defineRoute({
  method: "delete",
  path: "/permissions/:name",
  summary: "Delete one of the team's permissions that no role (but admin) and no live key holds",
  auth: adminCredentials,
  permission: "roles:write",
  permissionNote: "and the permission itself",
  responses: {
    200: "`{success: true, name}`.",
    403: "The caller does not hold the permission.",
    404: noSuchPermissionText,
    409: "`built_in`: Latchkey's own permissions are never deleted; `in_use`: a role other " +
      "than admin, or a live key (not revoked, not expired), holds it: the message counts them.",
  },
}, async (c) => {
  const name = permissionNameParam(c);
  await asCaller(c, async (tx) => {
    const before = await readPermission(tx, name);
    requireTeams(c, before, "delete");
    // The guard trigger counts who holds it (409 in_use, its words), whatever the caller may
    // read of the keys.
    const deleted = await tx`delete from latchkey.permissions where name = ${name} returning 1`;
    if (deleted.length === 0) throw new ApiError("not_found", { message: noSuchPermissionText });
    await tx`
      select latchkey.record_audit_event('permission.deleted', 'permission', null,
        jsonb_build_object('name', ${name}::text, 'description', ${before.description}::text))`;
  });
  return c.json({ success: true, name });
});
