import { api } from "../api.js";
import { field, formValues, h, select, show, table, when } from "../dom.js";
import { actingThen } from "./acting.js";
import { createKeyForm } from "./key_form.js";
import { keyTable, readOnlyKeys, secretPanel } from "./key_table.js";
import { pager } from "./pager.js";
import { orgRoleNames, roleOptions } from "./role_names.js";

/**
 * A signed-in person's organizations (sessions only: the API refuses keys): the ones they
 * belong to with their role, creating one, and one organization's members, invitations and
 * settings. What is offered follows the caller's organization permissions (`org.permissions`);
 * the API still decides, and its 403 (reach, a suspended organization) is shown as it says it.
 */
export async function renderOrgs(main, context) {
  const { params, navigate, notify } = context;
  const page = await api("GET", "/orgs", { query: { cursor: params.get("cursor"), limit: 50 } });
  show(
    main,
    h("h1", {}, "Organizations"),
    table(
      "Your organizations",
      [
        ["Name", (org) => h("a", { href: `#/orgs/${org.id}` }, org.name)],
        ["Slug", (org) => h("code", {}, org.slug)],
        ["Your role", (org) => org.role],
        ["State", orgState],
        ["Created", (org) => when(org.createdAt)],
      ],
      page.orgs,
      "You belong to no organization yet.",
    ),
    pager("/orgs", params, page.nextCursor, navigate),
    createOrgForm({ navigate, notify }),
  );
}

export function orgState(org) {
  return org.suspended ? h("span", { class: "bad" }, "suspended") : "active";
}

function createOrgForm({ navigate, notify }) {
  // Kept until the creation succeeds: a second click or a retry makes one organization.
  let idempotencyKey = crypto.randomUUID();
  async function create(event) {
    event.preventDefault();
    const values = formValues(event.currentTarget);
    try {
      const { org } = await api("POST", "/orgs", {
        body: { name: values.name ?? "", ...(values.slug ? { slug: values.slug } : {}) },
        idempotencyKey,
      });
      idempotencyKey = crypto.randomUUID();
      navigate(`/orgs/${org.id}`, {}, `Created ${org.name}.`);
    } catch (error) {
      notify(error);
    }
  }
  return h(
    "form",
    { class: "card inline", onsubmit: create, "aria-labelledby": "create-org" },
    h("h2", { id: "create-org" }, "Create an organization"),
    field("Name", h("input", { name: "name", required: true, autocomplete: "off" })),
    field(
      "Slug",
      h("input", { name: "slug", autocomplete: "off" }),
      "Optional: made from the name when empty.",
    ),
    h("button", { type: "submit" }, "Create organization"),
  );
}

/** One organization as a member sees it: members, invitations, settings, leaving. */
export async function renderOrg(main, context) {
  const { orgId, params, me, can, navigate, notify } = context;
  const { org } = await api("GET", `/orgs/${orgId}`);
  const may = (permission) => org.permissions.includes(permission);
  const [members, invitations, roles, keys] = await Promise.all([
    api("GET", `/orgs/${orgId}/members`, { query: { cursor: params.get("cursor"), limit: 50 } }),
    may("members:invite")
      ? api("GET", `/orgs/${orgId}/invitations`, { query: { limit: 100 } })
      : null,
    may("members:invite") || may("members:write") ? orgRoleNames(can, org.role) : [],
    may("keys:read") || may("keys:write")
      ? api("GET", `/orgs/${orgId}/keys`, {
        query: { cursor: params.get("keysCursor"), limit: 50 },
      })
      : null,
  ]);
  const refresh = () => renderOrg(main, { ...context, secret: null });
  const act = actingThen({ notify, refresh });
  const base = `/orgs/${orgId}`;
  const myId = me?.user?.id;

  const memberActions = (member) => {
    if (member.userId === myId) return h("span", { class: "muted" }, "you");
    if (!may("members:write")) return "—";
    const picker = select("role", roleOptions(roles), member.role);
    picker.setAttribute("aria-label", `Role of ${member.email}`);
    return h(
      "span",
      { class: "actions" },
      picker,
      h("button", {
        type: "button",
        "aria-label": `Change role of ${member.email}`,
        onclick: act(
          () => api("PATCH", `${base}/members/${member.userId}`, { body: { role: picker.value } }),
          `${member.email} is ${picker.value} now.`,
        ),
      }, "Change role"),
      org.role === "owner"
        ? h("button", {
          type: "button",
          "aria-label": `Transfer ownership to ${member.email}`,
          onclick(event) {
            if (!confirm(`Make ${member.email} the owner? You become an admin.`)) return;
            return act(
              () => api("POST", `${base}/transfer`, { body: { userId: member.userId } }),
              `${member.email} owns ${org.name} now.`,
            )(event);
          },
        }, "Transfer ownership")
        : null,
      h("button", {
        type: "button",
        class: "danger",
        "aria-label": `Remove ${member.email}`,
        onclick(event) {
          if (!confirm(`Remove ${member.email} from ${org.name}?`)) return;
          return act(
            () => api("DELETE", `${base}/members/${member.userId}`),
            `Removed ${member.email}.`,
          )(event);
        },
      }, "Remove"),
    );
  };

  show(
    main,
    h("p", {}, h("a", { href: "#/orgs" }, "← Organizations")),
    h("h1", {}, org.name, " ", h("small", { class: "muted" }, `${org.slug} · you are ${org.role}`)),
    org.suspended
      ? h(
        "p",
        { class: "notice error", "data-testid": "org-suspended" },
        "Suspended by the platform's staff: members can read it, nobody can change it.",
      )
      : null,
    table(
      "Members",
      [
        ["Name", (member) => member.name],
        ["Email", (member) => member.email],
        ["Role", (member) => member.role],
        ["Joined", (member) => when(member.joinedAt)],
        ["", memberActions],
      ],
      members.members,
      "No members.",
    ),
    pager(base, params, members.nextCursor, navigate),
    invitations ? invitationsSection(org, invitations.invitations, { act, roles }) : null,
    keys
      ? orgKeysSection(org, keys, {
        members: members.members,
        secret: context.secret,
        pages: pager(base, params, keys.nextCursor, navigate, {
          param: "keysCursor",
          label: "Pages of keys",
        }),
        notify,
        refresh: (secret) => renderOrg(main, { ...context, secret }),
      })
      : null,
    may("org:write") ? renameForm(org, act) : null,
    h(
      "section",
      { class: "card", "aria-labelledby": "leave-org" },
      h("h2", { id: "leave-org" }, "Leave or delete"),
      h(
        "p",
        { class: "actions" },
        h("button", {
          type: "button",
          class: "danger",
          async onclick() {
            if (!confirm(`Leave ${org.name}?`)) return;
            try {
              await api("DELETE", `${base}/members/${myId}`);
              navigate("/orgs", {}, `You left ${org.name}.`);
            } catch (error) {
              notify(error);
            }
          },
        }, "Leave organization"),
        may("org:delete")
          ? h("button", {
            type: "button",
            class: "danger",
            async onclick() {
              if (!confirm(`Delete ${org.name}, its memberships and invitations?`)) return;
              try {
                await api("DELETE", base);
                navigate("/orgs", {}, `Deleted ${org.name}.`);
              } catch (error) {
                notify(error);
              }
            },
          }, "Delete organization")
          : null,
      ),
    ),
  );
}

function invitationsSection(org, invitations, { act, roles }) {
  const base = `/orgs/${org.id}`;
  // One key per form drawn: a double click queues one mail; the redraw after success makes anew.
  const idempotencyKey = crypto.randomUUID();
  return h(
    "section",
    { class: "card", "aria-labelledby": "invitations" },
    h("h2", { id: "invitations" }, "Invitations"),
    table(
      "Open invitations",
      [
        ["Email", (invitation) => invitation.email],
        ["Role", (invitation) => invitation.role],
        ["Sent", (invitation) => when(invitation.createdAt)],
        ["Expires", (invitation) => when(invitation.expiresAt)],
        ["", (invitation) =>
          h("button", {
            type: "button",
            class: "danger",
            "aria-label": `Revoke invitation of ${invitation.email}`,
            onclick: act(
              () => api("DELETE", `${base}/invitations/${invitation.id}`),
              `Revoked the invitation of ${invitation.email}.`,
            ),
          }, "Revoke")],
      ],
      invitations,
      "No open invitations.",
    ),
    h(
      "form",
      {
        class: "inline",
        "aria-labelledby": "invite-member",
        onsubmit: act(
          (values) =>
            api("POST", `${base}/invitations`, {
              body: { email: values.email ?? "", role: values.role ?? "member" },
              idempotencyKey,
            }),
          "Invitation sent.",
        ),
      },
      h("h3", { id: "invite-member" }, "Invite by email"),
      field(
        "Email",
        h("input", { name: "email", type: "email", required: true, autocomplete: "off" }),
      ),
      field("Role", select("role", roleOptions(roles), "member")),
      h("button", { type: "submit" }, "Send invitation"),
    ),
  );
}

/**
 * The organization's keys, for a member whose role may read them (`keys:read`): who made each,
 * and with `keys:write` creating one (the scopes the organization may grant, `org.keyScopes`;
 * the secret shown once), rotating and revoking it. Nothing changes while it is suspended but
 * revoking, as the API has it.
 */
function orgKeysSection(org, page, { members, secret, pages, notify, refresh }) {
  const base = `/orgs/${org.id}/keys`;
  const writer = org.permissions.includes("keys:write");
  const emails = new Map(members.map((member) => [member.userId, member.email]));
  const actions = writer
    ? {
      mayRevoke: () => true,
      mayRotate: () => !org.suspended,
      mayEditLimits: () => !org.suspended,
      revoke: (key) => api("DELETE", `${base}/${key.id}`),
      updateLimits: (key, body) => api("PATCH", `${base}/${key.id}`, { body }),
      rotate: (key, overlapSeconds) =>
        api("POST", `${base}/${key.id}/rotate`, { body: { overlapSeconds }, idempotent: true }),
    }
    : readOnlyKeys;
  return h(
    "section",
    { class: "card", "aria-labelledby": "org-keys" },
    h("h2", { id: "org-keys" }, "Keys"),
    h(
      "p",
      { class: "muted" },
      "Keys the organization owns: they keep working when the member who made them leaves.",
    ),
    secret ? secretPanel(secret) : null,
    keyTable(page.keys, {
      actions,
      notify,
      refresh,
      // A creator who left, or whose account went, is an id or nobody.
      createdBy: (key) =>
        key.createdBy === null
          ? h("span", { class: "muted" }, "a former member")
          : emails.get(key.createdBy) ??
            h("code", { title: key.createdBy }, key.createdBy.slice(0, 8)),
    }),
    pages,
    writer && !org.suspended
      ? createKeyForm({
        create: (body, idempotencyKey) => api("POST", base, { body, idempotencyKey }),
        scopes: org.keyScopes ?? [],
        nameRequired: true,
        notify,
        refresh,
      })
      : null,
  );
}

function renameForm(org, act) {
  return h(
    "section",
    { class: "card", "aria-labelledby": "rename-org" },
    h("h2", { id: "rename-org" }, "Name and slug"),
    h(
      "form",
      {
        class: "inline",
        onsubmit: act((values) => api("PATCH", `/orgs/${org.id}`, { body: values }), "Saved."),
      },
      field("Name", h("input", { name: "name", value: org.name, autocomplete: "off" })),
      field("Slug", h("input", { name: "slug", value: org.slug, autocomplete: "off" })),
      h("button", { type: "submit" }, "Save"),
    ),
  );
}

/** Every organization, for the platform's staff (`orgs:read`): search, state, cursor pages. */
export async function renderStaffOrgs(main, { params, navigate }) {
  const query = Object.fromEntries(params);
  const page = await api("GET", "/admin/orgs", {
    query: { q: query.q, suspended: query.suspended, cursor: query.cursor, limit: 25 },
  });
  show(
    main,
    h("h1", {}, "All organizations"),
    h(
      "form",
      {
        class: "filters",
        role: "search",
        "aria-label": "Find organizations",
        onsubmit(event) {
          event.preventDefault();
          const form = event.currentTarget;
          navigate("/staff/orgs", {
            q: form.elements.q.value.trim(),
            suspended: form.elements.suspended.value,
          });
        },
      },
      field(
        "Search name or slug",
        h("input", { name: "q", type: "search", value: query.q ?? "" }),
      ),
      field(
        "State",
        select(
          "suspended",
          [["", "either"], ["true", "suspended"], ["false", "active"]],
          query.suspended,
        ),
      ),
      h("button", { type: "submit" }, "Find"),
    ),
    table(
      "Organizations, newest first",
      [
        ["Name", (org) => h("a", { href: `#/staff/orgs/${org.id}` }, org.name)],
        ["Slug", (org) => h("code", {}, org.slug)],
        ["State", orgState],
        ["Created", (org) => when(org.createdAt)],
      ],
      page.orgs,
      "No organization matches.",
    ),
    pager("/staff/orgs", params, page.nextCursor, navigate),
  );
}

/** One organization for the staff: its state and members; suspend or lift it (`orgs:write`). */
export async function renderStaffOrg(main, context) {
  const { orgId, params, can, navigate, notify } = context;
  const [{ org }, members, keys] = await Promise.all([
    api("GET", `/admin/orgs/${orgId}`),
    api("GET", `/admin/orgs/${orgId}/members`, {
      query: { cursor: params.get("cursor"), limit: 50 },
    }),
    can("keys:read")
      ? api("GET", "/admin/keys", {
        query: { orgId, cursor: params.get("keysCursor"), limit: 50 },
      })
      : null,
  ]);
  const act = actingThen({ notify, refresh: () => renderStaffOrg(main, context) });
  const patch = (body) => api("PATCH", `/admin/orgs/${orgId}`, { body });
  show(
    main,
    h("p", {}, h("a", { href: "#/staff/orgs" }, "← All organizations")),
    h("h1", {}, org.name, " ", h("small", { class: "muted" }, org.slug)),
    h(
      "section",
      { class: "card", "aria-labelledby": "org-state" },
      h("h2", { id: "org-state" }, "State"),
      h(
        "dl",
        {},
        h("dt", {}, "State"),
        h("dd", { "data-testid": "org-state" }, orgState(org)),
        org.suspended ? [h("dt", {}, "Suspended"), h("dd", {}, when(org.suspendedAt))] : null,
        org.suspended
          ? [h("dt", {}, "Reason"), h("dd", {}, org.suspensionReason ?? "none given")]
          : null,
        h("dt", {}, "Members"),
        h("dd", {}, String(org.members)),
        h("dt", {}, "Created"),
        h("dd", {}, when(org.createdAt)),
      ),
      !can("orgs:write") ? null : org.suspended
        ? h("form", {
          class: "inline",
          onsubmit: act(() => patch({ suspended: false }), `${org.name} is active again.`),
        }, h("button", { type: "submit" }, "Unsuspend"))
        : h(
          "form",
          {
            class: "inline",
            onsubmit: act(
              (values) =>
                patch({
                  suspended: true,
                  ...(values.suspensionReason ? { suspensionReason: values.suspensionReason } : {}),
                }),
              `Suspended ${org.name}: its keys stop working.`,
            ),
          },
          field("Reason", h("input", { name: "suspensionReason", size: 40 })),
          h("button", { type: "submit", class: "danger" }, "Suspend"),
        ),
    ),
    table(
      "Members",
      [
        [
          "Name",
          (member) =>
            can("users:read")
              ? h("a", { href: `#/users/${member.userId}` }, member.name)
              : member.name,
        ],
        ["Email", (member) => member.email],
        ["Role", (member) => member.role],
        ["Joined", (member) => when(member.joinedAt)],
      ],
      members.members,
      "No members.",
    ),
    pager(`/staff/orgs/${orgId}`, params, members.nextCursor, navigate),
    // Read-only here: the Keys page revokes and rotates any key within the caller's reach.
    keys
      ? h(
        "section",
        { class: "card", "aria-labelledby": "org-keys" },
        h("h2", { id: "org-keys" }, "Keys"),
        keyTable(keys.keys, { actions: readOnlyKeys, notify, refresh: () => {} }),
        pager(`/staff/orgs/${orgId}`, params, keys.nextCursor, navigate, {
          param: "keysCursor",
          label: "Pages of keys",
        }),
      )
      : null,
  );
}
