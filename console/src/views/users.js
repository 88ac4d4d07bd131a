import { api } from "../api.js";
import { field, formValues, h, select, show, table, when } from "../dom.js";
import { pager } from "./pager.js";
import { platformRoleNames, roleOptions } from "./role_names.js";
import { secondFactorState } from "./second_factors.js";

/** Find people: search on email and name, role/tier/banned/factor filters, cursor pages. */
export async function renderUsers(main, { params, can, navigate, notify }) {
  const query = Object.fromEntries(params);
  const [page, roles] = await Promise.all([
    api("GET", "/admin/users", {
      query: {
        q: query.q,
        role: query.role,
        tier: query.tier,
        banned: query.banned,
        secondFactor: query.secondFactor,
        cursor: query.cursor,
        limit: 25,
      },
    }),
    platformRoleNames(can, query.role),
  ]);

  const filters = h(
    "form",
    {
      class: "filters",
      role: "search",
      "aria-label": "Find users",
      onsubmit(event) {
        event.preventDefault();
        navigate("/users", formValues(event.currentTarget));
      },
    },
    field("Search email or name", h("input", { name: "q", type: "search", value: query.q ?? "" })),
    field("Role", select("role", [["", "any role"], ...roleOptions(roles)], query.role)),
    field("Tier", h("input", { name: "tier", value: query.tier ?? "", size: 8 })),
    field(
      "Banned",
      select("banned", [["", "either"], ["true", "banned"], ["false", "not banned"]], query.banned),
    ),
    field(
      "Second factor",
      select(
        "secondFactor",
        [["", "either"], ["false", "none"], ["true", "has one"]],
        query.secondFactor,
      ),
    ),
    h("button", { type: "submit" }, "Find"),
  );

  const results = table(
    "Users, newest first",
    [
      ["Email", (user) => h("a", { href: `#/users/${user.id}` }, user.email)],
      ["Name", (user) => user.name],
      ["Role", (user) => user.role],
      ["Tier", (user) => user.tier],
      ["State", (user) => user.bannedAt ? h("span", { class: "bad" }, "banned") : "active"],
      ["Second factor", secondFactorState],
      ["Created", (user) => when(user.createdAt)],
    ],
    page.users,
    "No user matches.",
  );

  show(
    main,
    h("h1", {}, "Users"),
    filters,
    results,
    pager("/users", params, page.nextCursor, navigate),
    can("users:write") ? createUserForm({ can, navigate, notify, roles }) : null,
  );
}

function createUserForm({ can, navigate, notify, roles }) {
  async function create(event) {
    event.preventDefault();
    const values = formValues(event.currentTarget);
    try {
      const answer = await api("POST", "/admin/users", {
        body: {
          email: values.email ?? "",
          name: values.name ?? "",
          ...(values.password ? { password: values.password } : {}),
          ...(values.role ? { role: values.role } : {}),
          ...(values.tier ? { tier: values.tier } : {}),
        },
        idempotent: true,
      });
      navigate(`/users/${answer.user.id}`, {}, `Created ${answer.user.email}.`);
    } catch (error) {
      notify(error);
    }
  }
  return h(
    "form",
    { class: "card", onsubmit: create, "aria-labelledby": "create-user" },
    h("h2", { id: "create-user" }, "Create a user"),
    field(
      "Email",
      h("input", { name: "email", type: "email", required: true, autocomplete: "off" }),
    ),
    field("Name", h("input", { name: "name", required: true, autocomplete: "off" })),
    field(
      "Password",
      h("input", { name: "password", type: "password", autocomplete: "new-password" }),
      "Leave empty for a person who will reset it.",
    ),
    can("roles:write") ? field("Role", select("role", roleOptions(roles), "user")) : null,
    field("Tier", h("input", { name: "tier", placeholder: "free" })),
    h("button", { type: "submit" }, "Create user"),
  );
}
