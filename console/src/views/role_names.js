import { api } from "../api.js";

const builtInPlatformRoles = ["user", "support", "admin"];
const builtInOrgRoles = ["owner", "admin", "member"];

/**
 * The platform roles a picker offers: the runtime ones (GET /admin/roles) when the credential
 * may read them, else the built-in three; `current` is kept in the list whatever it is, so a
 * form never silently changes a role it cannot name.
 */
export async function platformRoleNames(can, current) {
  const names = can("roles:read")
    ? (await api("GET", "/admin/roles")).roles.map((role) => role.name)
    : builtInPlatformRoles;
  return withCurrent(names, current);
}

/**
 * The organization roles a member picker offers: the built-in three and, when the session may
 * read the catalogue (`roles:read`), the custom ones. Whether the caller may give one is the
 * API's to say.
 */
export async function orgRoleNames(can, current) {
  const names = can("roles:read")
    ? (await api("GET", "/admin/org-roles")).roles.map((role) => role.name)
    : builtInOrgRoles;
  return withCurrent(names, current);
}

function withCurrent(names, current) {
  return current && !names.includes(current) ? [...names, current] : names;
}

/** `[value, label]` pairs for dom.js's select(). */
export function roleOptions(names) {
  return names.map((name) => [name, name]);
}
