import { api } from "../api.js";
import { field, h, show, table, when } from "../dom.js";
import { actingThen } from "./acting.js";

/**
 * Roles at runtime (`roles:read`): the platform roles, the organization roles and the permission
 * catalogue. With `roles:write` (and `orgs:write` for organization roles) roles are created,
 * edited (their permission sets as checkboxes) and deleted, and the team's own permissions
 * registered, described and deleted. Adding a permission to a role needs a fresh second factor:
 * the API's `step_up_required` opens the step-up dialog (api.js) and the save is sent again.
 * Reach is the API's to decide; its 403 names what the caller lacks.
 */
export async function renderRoles(main, context) {
  const { can, notify } = context;
  const [platform, org, catalogue] = await Promise.all([
    api("GET", "/admin/roles"),
    api("GET", "/admin/org-roles"),
    api("GET", "/admin/permissions"),
  ]);
  const writer = can("roles:write");
  const act = actingThen({ notify, refresh: () => renderRoles(main, context) });
  show(
    main,
    h("h1", {}, "Roles"),
    h(
      "p",
      { class: "muted" },
      "What each role may do. Nobody gives a role, or a role a permission, beyond what they hold.",
    ),
    roleSection({
      id: "platform-roles",
      heading: "Platform roles",
      what: "role",
      path: "/admin/roles",
      roles: platform.roles,
      catalogue: catalogue.permissions,
      // admin holds every permission, its set fixed.
      fixed: ["admin"],
      writer,
      act,
    }),
    roleSection({
      id: "org-roles",
      heading: "Organization roles",
      what: "organization role",
      path: "/admin/org-roles",
      roles: org.roles,
      catalogue: org.permissions,
      fixed: ["owner"],
      writer: writer && can("orgs:write"),
      act,
    }),
    permissionSection(catalogue.permissions, { writer, act }),
  );
}

function roleSection({ id, heading, what, path, roles, catalogue, fixed, writer, act }) {
  // The editor of one role (or a new one) is drawn here, below the table.
  const editor = h("div", {});
  const edit = (role) => {
    show(editor, roleForm({ what, path, role, catalogue, act }));
    editor.querySelector("input:not([type=hidden])")?.focus();
  };
  const actions = (role) =>
    h(
      "span",
      { class: "actions" },
      fixed.includes(role.name) ? null : h("button", {
        type: "button",
        "aria-label": `Edit ${what} ${role.name}`,
        onclick: () => edit(role),
      }, "Edit"),
      role.builtIn ? null : h("button", {
        type: "button",
        class: "danger",
        "aria-label": `Delete ${what} ${role.name}`,
        onclick(event) {
          if (!confirm(`Delete the ${what} ${role.name}?`)) return;
          return act(
            () => api("DELETE", `${path}/${encodeURIComponent(role.name)}`),
            `Deleted the ${what} ${role.name}.`,
          )(event);
        },
      }, "Delete"),
    );
  return h(
    "section",
    { class: "card", "aria-labelledby": id },
    h("h2", { id }, heading),
    table(
      `${heading} and what each holds`,
      [
        ["Name", (role) => h("code", {}, role.name)],
        ["Description", (role) => role.description || "—"],
        [
          "Permissions",
          (role) =>
            role.permissions.length
              ? role.permissions.join(", ")
              : h("span", { class: "muted" }, "none"),
        ],
        ["Built in", (role) => role.builtIn ? "yes" : "no"],
        ...(writer ? [["", actions]] : []),
      ],
      roles,
      "No roles.",
    ),
    writer
      ? h("p", {}, h("button", { type: "button", onclick: () => edit(null) }, `New ${what}`))
      : null,
    editor,
  );
}

/** A role's form: name (a new role only), description, its permissions as checkboxes. */
function roleForm({ what, path, role, catalogue, act }) {
  const held = new Set(role?.permissions ?? []);
  const formId = `role-form-${crypto.randomUUID().slice(0, 8)}`;
  // Kept while this form is on screen: a double click creates one role.
  const idempotencyKey = crypto.randomUUID();
  const save = act(async (values) => {
    const permissions = [...form.querySelectorAll("input[name=permission]:checked")]
      .map((box) => box.value);
    if (role) {
      await api("PATCH", `${path}/${encodeURIComponent(role.name)}`, {
        body: { description: values.description ?? "", permissions },
      });
    } else {
      await api("POST", path, {
        body: {
          name: values.name ?? "",
          ...(values.description ? { description: values.description } : {}),
          permissions,
        },
        idempotencyKey,
      });
    }
  }, role ? `Saved the ${what} ${role.name}.` : `Created the ${what}.`);
  const form = h(
    "form",
    { class: "card role-form", onsubmit: save, "aria-labelledby": formId },
    h("h3", { id: formId }, role ? `Edit ${what} ${role.name}` : `New ${what}`),
    role ? null : field(
      "Name",
      h("input", { name: "name", required: true, autocomplete: "off" }),
      "1 to 32 lowercase letters, digits, _ and -, starting with a letter.",
    ),
    field(
      "Description",
      h("input", { name: "description", value: role?.description ?? "", size: 50 }),
    ),
    h(
      "fieldset",
      { class: "choices" },
      h("legend", {}, "Permissions"),
      catalogue.map((permission) =>
        h(
          "label",
          { title: permission.description ?? "" },
          h("input", {
            type: "checkbox",
            name: "permission",
            value: permission.name,
            checked: held.has(permission.name),
          }),
          " ",
          permission.name,
        )
      ),
    ),
    h("button", { type: "submit" }, role ? "Save role" : `Create ${what}`),
  );
  return form;
}

function permissionSection(permissions, { writer, act }) {
  const teams = (permission) => !permission.builtIn;
  const describe = (permission) => {
    if (!writer || !teams(permission)) return permission.description || "—";
    return h(
      "form",
      {
        class: "inline",
        onsubmit: act(
          (values) =>
            api("PATCH", `/admin/permissions/${encodeURIComponent(permission.name)}`, {
              body: { description: values.description ?? "" },
            }),
          `Saved ${permission.name}.`,
        ),
      },
      h("input", {
        name: "description",
        value: permission.description,
        size: 30,
        "aria-label": `Description of ${permission.name}`,
      }),
      h("button", { type: "submit", "aria-label": `Save ${permission.name}` }, "Save"),
    );
  };
  return h(
    "section",
    { class: "card", "aria-labelledby": "permissions" },
    h("h2", { id: "permissions" }, "Permission catalogue"),
    table(
      "Permissions: Latchkey's own and the team's",
      [
        ["Name", (permission) => h("code", {}, permission.name)],
        ["Description", describe],
        ["Held by", (permission) => permission.roles.join(", ") || "—"],
        ["Kind", (permission) => permission.builtIn ? "Latchkey" : "team's"],
        ["Added", (permission) => when(permission.createdAt)],
        ...(writer
          ? [["", (permission) =>
            teams(permission)
              ? h("button", {
                type: "button",
                class: "danger",
                "aria-label": `Delete permission ${permission.name}`,
                onclick(event) {
                  if (!confirm(`Delete the permission ${permission.name}?`)) return;
                  return act(
                    () =>
                      api("DELETE", `/admin/permissions/${encodeURIComponent(permission.name)}`),
                    `Deleted ${permission.name}.`,
                  )(event);
                },
              }, "Delete")
              : "—"]]
          : []),
      ],
      permissions,
      "No permissions.",
    ),
    writer
      ? h(
        "form",
        {
          class: "inline",
          "aria-labelledby": "add-permission",
          onsubmit: act(
            (values) =>
              api("POST", "/admin/permissions", {
                body: { name: values.name ?? "", description: values.description ?? "" },
              }),
            "Permission added: admin holds it now.",
          ),
        },
        h("h3", { id: "add-permission" }, "Add a team permission"),
        field(
          "Name",
          h("input", { name: "name", required: true, autocomplete: "off", size: 24 }),
          "resource:action, e.g. notes:read",
        ),
        field(
          "Description",
          h("input", { name: "description", required: true, autocomplete: "off", size: 40 }),
        ),
        h("button", { type: "submit" }, "Add permission"),
      )
      : null,
  );
}
