import { z } from "zod";
import { sqlState, type Transaction } from "../_shared/db/database.ts";
import { ApiError } from "../_shared/ground/errors.ts";
import { permissionNameSchema, roleNameSchema } from "../_shared/ground/fields.ts";
import type { Principal } from "../_shared/ground/principal.ts";
import type { AppContext } from "../_shared/http/context.ts";
import { requireSteppedUp } from "../_shared/identity/step_up.ts";
import { requireHeld, requireReach, type RoleSet, roleSet } from "../_shared/identity/reach.ts";

/**
 * Roles at runtime (issue 29, item 3), as the admin routes share them: platform roles
 * (latchkey.roles, /admin/roles) and organization roles (latchkey.org_roles, /admin/org-roles)
 * are read, created, changed and deleted the same way, each against its own catalogue. The
 * policies and guard triggers of the role tables decide (reach, step-up, built-in and held
 * roles); these checks come first so the answer names what is wrong.
 */

/** Which catalogue a route works on. */
export interface RoleScope {
  roles: "roles" | "org_roles";
  grants: "role_permissions" | "org_role_permissions";
  permissions: "permissions" | "org_permissions";
  /** The role holding every permission of the catalogue: its set is fixed. */
  fixed: "admin" | "owner";
  /** The audit events' target kind and actions. */
  audit: {
    target: "role" | "org_role";
    created: string;
    updated: string;
    deleted: string;
  };
  noSuchRole: string;
}

export const platformRoles: RoleScope = {
  roles: "roles",
  grants: "role_permissions",
  permissions: "permissions",
  fixed: "admin",
  audit: {
    target: "role",
    created: "role.created",
    updated: "role.updated",
    deleted: "role.deleted",
  },
  noSuchRole: "No such role.",
};

export const orgRoles: RoleScope = {
  roles: "org_roles",
  grants: "org_role_permissions",
  permissions: "org_permissions",
  fixed: "owner",
  audit: {
    target: "org_role",
    created: "org_role.created",
    updated: "org_role.updated",
    deleted: "org_role.deleted",
  },
  noSuchRole: "No such organization role.",
};

export const roleDescriptionSchema = z.string().trim().max(500).meta({
  examples: ["Reads and settles invoices"],
});

const permissionListSchema = z.array(permissionNameSchema).max(200)
  .transform((names) => [...new Set(names)]);

export const createRoleBody = z.strictObject({
  name: roleNameSchema,
  description: roleDescriptionSchema.optional(),
  permissions: permissionListSchema.meta({
    description: "What the role holds, from the catalogue (GET /admin/permissions, or for " +
      "organization roles the `permissions` GET /admin/org-roles answers).",
    examples: [["invoices:read", "invoices:write"]],
  }),
});

export const updateRoleBody = z.strictObject({
  description: roleDescriptionSchema.optional(),
  permissions: permissionListSchema.optional().meta({
    description: "The role's whole new set (what it held and is not here is taken away).",
    examples: [["invoices:read"]],
  }),
}).refine((body) => Object.keys(body).length > 0, {
  message: "Send description, permissions or both.",
});

export interface RoleRow {
  name: string;
  description: string;
  built_in: boolean;
  permissions: string[];
  created_at: Date;
  updated_at: Date;
}

export function roleView(row: RoleRow) {
  return {
    name: row.name,
    description: row.description,
    builtIn: row.built_in,
    permissions: row.permissions,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * A creation that lost a race for its name on the primary key (the other committed between our
 * look and our insert): 409 as if the look had found it.
 */
export async function alreadyExistsOnRace(
  name: string,
  created: Promise<Response>,
): Promise<Response> {
  try {
    return await created;
  } catch (error) {
    if (sqlState(error) === "23505") {
      throw new ApiError("already_exists", { message: `${name} exists already.`, cause: error });
    }
    throw error;
  }
}

/** A role's `:name` from the path: a malformed one is no role, as an unknown one. */
export function roleNameParam(c: AppContext, scope: RoleScope): string {
  const parsed = roleNameSchema.safeParse(c.req.param("name"));
  if (!parsed.success) throw new ApiError("not_found", { message: scope.noSuchRole });
  return parsed.data;
}

function selectRoles(tx: Transaction, scope: RoleScope) {
  return tx`
    select r.name, r.description, r.built_in, r.created_at, r.updated_at,
      array(select g.permission from ${tx("latchkey." + scope.grants)} g
        where g.role = r.name order by g.permission) as permissions
    from ${tx("latchkey." + scope.roles)} r`;
}

/** Every role of the catalogue: built-in ones first, then by name. */
export function listRoles(tx: Transaction, scope: RoleScope): Promise<RoleRow[]> {
  return tx<RoleRow[]>`${selectRoles(tx, scope)} order by r.built_in desc, r.name`;
}

async function readRole(tx: Transaction, scope: RoleScope, name: string): Promise<RoleRow> {
  const [row] = await tx<RoleRow[]>`${selectRoles(tx, scope)} where r.name = ${name}`;
  if (!row) throw new ApiError("not_found", { message: scope.noSuchRole });
  return row;
}

/**
 * 400 naming each permission the catalogue does not have (`field`: the body's list). The
 * catalogue is readable by everyone, so this tells nobody anything new.
 */
async function requireCatalogued(
  tx: Transaction,
  scope: RoleScope,
  permissions: readonly string[],
): Promise<void> {
  if (permissions.length === 0) return;
  const known = new Set(
    (await tx<{ name: string }[]>`
      select name from ${tx("latchkey." + scope.permissions)}
      where name = any(${permissions as string[]}::text[])`).map((row) => row.name),
  );
  const unknown = permissions.filter((permission) => !known.has(permission));
  if (unknown.length) {
    throw new ApiError("validation_failed", {
      details: unknown.map((permission) => ({
        path: `permissions.${permissions.indexOf(permission)}`,
        message: `No permission ${permission} in the catalogue (${
          scope.roles === "roles" ? "GET /admin/permissions" : "GET /admin/org-roles"
        } lists them).`,
      })),
    });
  }
}

/**
 * What a caller must be to write this catalogue, beyond the route's roles:write: for platform
 * roles, hold what it grants and reach the role it changes (checked per change below); for
 * organization roles, which change what members may do in every organization, orgs:write too.
 */
function requireWriter(principal: Principal, scope: RoleScope): void {
  if (scope.roles === "org_roles" && !principal.permissions.includes("orgs:write")) {
    throw new ApiError("forbidden", {
      message: "Organization roles change what members may do in every organization: " +
        "defining them needs orgs:write as well as roles:write.",
    });
  }
}

/** A new role with its permissions, audited; a step-up when it holds any (the route says so). */
export async function createRole(
  c: AppContext,
  tx: Transaction,
  scope: RoleScope,
  body: z.output<typeof createRoleBody>,
): Promise<RoleRow> {
  const principal = c.get("principal");
  requireWriter(principal, scope);
  if (scope.roles === "roles" && body.name === "anonymous") {
    throw new ApiError("validation_failed", {
      details: [{ path: "name", message: "anonymous is the role of a caller with none." }],
    });
  }
  await requireCatalogued(tx, scope, body.permissions);
  if (scope.roles === "roles") requireHeld(principal, body.permissions);
  const [taken] = await tx`
    select 1 from ${tx("latchkey." + scope.roles)} where name = ${body.name}`;
  if (taken) {
    throw new ApiError("already_exists", { message: `The role ${body.name} exists already.` });
  }
  await tx`
    insert into ${tx("latchkey." + scope.roles)} (name, description)
    values (${body.name}, ${body.description ?? ""})`;
  if (body.permissions.length) {
    await tx`
      insert into ${tx("latchkey." + scope.grants)} (role, permission)
      select ${body.name}, unnest(${body.permissions}::text[])`;
  }
  await tx`
    select latchkey.record_audit_event(${scope.audit.created}, ${scope.audit.target}, null,
      jsonb_build_object('name', ${body.name}::text, 'description', ${body.description ?? ""}::text,
        'permissions', to_jsonb(${body.permissions}::text[])))`;
  return await readRole(tx, scope, body.name);
}

/**
 * A role's description or whole permission set, audited with what was added and taken away.
 * The fixed role's set never changes; a platform role changes only within the caller's reach
 * (it holds everything the role held and everything it is given); adding a permission is a
 * step-up.
 */
export async function updateRole(
  c: AppContext,
  tx: Transaction,
  scope: RoleScope,
  name: string,
  body: z.output<typeof updateRoleBody>,
): Promise<RoleRow> {
  const principal = c.get("principal");
  requireWriter(principal, scope);
  const before = await lockedRole(c, tx, scope, name, "Changing");
  const wanted = body.permissions ?? before.permissions;
  const added = wanted.filter((permission) => !before.permissions.includes(permission));
  const removed = before.permissions.filter((permission) => !wanted.includes(permission));
  if ((added.length || removed.length) && name === scope.fixed) {
    throw new ApiError("built_in", {
      message: `The ${scope.fixed} role holds every permission of the catalogue: its set is ` +
        "fixed.",
    });
  }
  await requireCatalogued(tx, scope, added);
  if (scope.roles === "roles") requireHeld(principal, added);
  if (added.length) requireSteppedUp(c);
  if (removed.length) {
    const taken = await tx`
      delete from ${tx("latchkey." + scope.grants)}
      where role = ${name} and permission = any(${removed}::text[])
      returning 1`;
    if (taken.length !== removed.length) throw beyondReach("Changing", name);
  }
  if (added.length) {
    await tx`
      insert into ${tx("latchkey." + scope.grants)} (role, permission)
      select ${name}, unnest(${added}::text[])`;
  }
  const description = body.description ?? before.description;
  await tx`
    update ${tx("latchkey." + scope.roles)} set description = ${description}, updated_at = now()
    where name = ${name}`;
  await tx`
    select latchkey.record_audit_event(${scope.audit.updated}, ${scope.audit.target}, null,
      jsonb_build_object('name', ${name}::text, 'added', to_jsonb(${added}::text[]),
        'removed', to_jsonb(${removed}::text[]),
        'description', jsonb_build_object('before', ${before.description}::text,
          'after', ${description}::text)))`;
  return await readRole(tx, scope, name);
}

/** A custom role nobody holds any more, audited with what it held. */
export async function deleteRole(
  c: AppContext,
  tx: Transaction,
  scope: RoleScope,
  name: string,
): Promise<void> {
  requireWriter(c.get("principal"), scope);
  const before = await lockedRole(c, tx, scope, name, "Deleting");
  if (before.built_in) {
    throw new ApiError("built_in", {
      message: `The role ${name} is built in: it is never deleted.`,
    });
  }
  // The guard trigger counts who still holds it (409 in_use, its words).
  const deleted = await tx`
    delete from ${tx("latchkey." + scope.roles)} where name = ${name} returning 1`;
  if (deleted.length === 0) throw beyondReach("Deleting", name);
  await tx`
    select latchkey.record_audit_event(${scope.audit.deleted}, ${scope.audit.target}, null,
      jsonb_build_object('name', ${name}::text,
        'permissions', to_jsonb(${before.permissions}::text[])))`;
}

/**
 * The role, 404 when there is none; for a platform role, 403 unless the caller reaches it;
 * then locked (which needs the update policy, so it comes after the check that says why), so
 * two changes of one role's set do not interleave.
 */
async function lockedRole(
  c: AppContext,
  tx: Transaction,
  scope: RoleScope,
  name: string,
  action: string,
): Promise<RoleRow> {
  const role = await readRole(tx, scope, name);
  if (scope.roles === "roles") requireReach(c.get("principal"), role, action, `the role ${name}`);
  const [locked] = await tx`
    select 1 from ${tx("latchkey." + scope.roles)} where name = ${name} for update`;
  if (!locked) throw beyondReach(action, name);
  return await readRole(tx, scope, name);
}

function beyondReach(action: string, name: string): ApiError {
  return new ApiError("forbidden", {
    message: `${action} the role ${name} needs every permission it holds and every one it is ` +
      "given.",
  });
}

/**
 * The platform role an account is given (creating or changing it): 400 when there is no such
 * role, 403 unless the caller holds every permission it holds (nobody makes anyone more than
 * themselves).
 */
export async function roleToGive(
  tx: Transaction,
  principal: Principal,
  name: string,
  action: string,
): Promise<RoleSet> {
  const role = await roleSet(tx, name);
  if (!role) {
    throw new ApiError("validation_failed", {
      details: [{ path: "role", message: "No such role (GET /admin/roles lists them)." }],
    });
  }
  requireReach(principal, role, action);
  return role;
}
