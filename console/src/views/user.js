import { api } from "../api.js";
import { field, formValues, h, select, show, table, when } from "../dom.js";
import { auditTable } from "./audit_table.js";
import { keyTable, secretPanel } from "./key_table.js";

/**
 * One person: profile and account state, the changes the caller may make (role, tier, ban,
 * password), their sessions, their keys and what the audit log says about them and those.
 */
export async function renderUser(main, context) {
  const { userId, notify } = context;
  const [{ user, callerMay }, sessions, keys, audit] = await Promise.all([
    api("GET", `/admin/users/${userId}`),
    api("GET", `/admin/users/${userId}/sessions`),
    context.can("keys:read") ? api("GET", "/admin/keys", { query: { userId, limit: 200 } }) : null,
    context.can("audit:read")
      ? api("GET", "/admin/audit", { query: { subject: userId, limit: 25 } })
      : null,
  ]);
  // Not what the credential may do anywhere, but here: a change to an account whose role holds
  // a permission the caller lacks is refused, so the API says which of its permissions reach
  // this one, and nothing else is offered.
  const can = (permission) => callerMay.includes(permission);
  const refresh = (secret) => renderUser(main, { ...context, secret });

  const act = (work, done) => async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    try {
      await work(formValues(form));
      await refresh();
      notify(done);
    } catch (error) {
      notify(error);
    }
  };
  const patch = (body) => api("PATCH", `/admin/users/${userId}`, { body });

  show(
    main,
    h("p", {}, h("a", { href: "#/users" }, "← Users")),
    h("h1", {}, user.name, " ", h("small", { class: "muted" }, user.email)),
    user.bannedAt
      ? h(
        "p",
        { class: "notice error", "data-testid": "banned" },
        `Banned since ${new Date(user.bannedAt).toISOString()}: ${
          user.banReason ?? "no reason given"
        }`,
      )
      : null,
    h(
      "section",
      { class: "card", "aria-labelledby": "profile" },
      h("h2", { id: "profile" }, "Profile"),
      h(
        "dl",
        {},
        h("dt", {}, "Id"),
        h("dd", {}, h("code", {}, user.id)),
        h("dt", {}, "Role"),
        h("dd", { "data-testid": "user-role" }, user.role),
        h("dt", {}, "Tier"),
        h("dd", {}, user.tier),
        h("dt", {}, "Kind"),
        h("dd", {}, user.isServiceAccount ? "service account" : "person"),
        h("dt", {}, "Email verified"),
        h("dd", {}, user.emailVerifiedAt ? when(user.emailVerifiedAt) : "no"),
        h("dt", {}, "Last sign-in"),
        h("dd", {}, when(user.lastSignInAt)),
        h("dt", {}, "Created"),
        h("dd", {}, when(user.createdAt)),
      ),
    ),
    can("users:write")
      ? h(
        "section",
        { class: "card", "aria-labelledby": "change" },
        h("h2", { id: "change" }, "Change"),
        h(
          "form",
          {
            class: "inline",
            onsubmit: act((values) =>
              patch({
                name: values.name ?? user.name,
                tier: values.tier ?? user.tier,
                ...(can("roles:write") && values.role !== user.role ? { role: values.role } : {}),
              }), "Saved."),
          },
          field("Name", h("input", { name: "name", value: user.name })),
          field("Tier", h("input", { name: "tier", value: user.tier, size: 8 })),
          can("roles:write")
            ? field(
              "Role",
              select(
                "role",
                [["user", "user"], ["support", "support"], ["admin", "admin"]],
                user.role,
              ),
            )
            : null,
          h("button", { type: "submit" }, "Save"),
        ),
        user.bannedAt
          ? h("form", {
            class: "inline",
            onsubmit: act(() => patch({ banned: false }), "Unbanned."),
          }, h("button", { type: "submit" }, "Unban"))
          : h(
            "form",
            {
              class: "inline",
              onsubmit: act((values) =>
                patch({
                  banned: true,
                  ...(values.banReason ? { banReason: values.banReason } : {}),
                }), "Banned: sessions revoked, keys refused."),
            },
            field("Ban reason", h("input", { name: "banReason", maxlength: 500 })),
            h("button", { type: "submit", class: "danger" }, "Ban"),
          ),
        h(
          "form",
          {
            class: "inline",
            onsubmit: act((values) =>
              api("POST", `/admin/users/${userId}/password`, {
                body: { newPassword: values.newPassword ?? "" },
                idempotent: true,
              }), "Password set; their sessions were revoked."),
          },
          field(
            "New password",
            h("input", { name: "newPassword", type: "password", autocomplete: "new-password" }),
          ),
          h("button", { type: "submit" }, "Set password"),
        ),
      )
      : null,
    h(
      "section",
      { class: "card", "aria-labelledby": "sessions" },
      h("h2", { id: "sessions" }, `Sessions (${sessions.sessions.length})`),
      table(
        "Active sessions",
        [
          ["Started", (session) => when(session.createdAt)],
          ["Ends", (session) => when(session.expiresAt)],
          ["Address", (session) => session.ipAddress ?? "—"],
          ["Client", (session) => session.userAgent ?? "—"],
        ],
        sessions.sessions,
        "No active sessions.",
      ),
      can("sessions:revoke") && sessions.sessions.length > 0
        ? h("form", {
          onsubmit: act(
            () => api("DELETE", `/admin/users/${userId}/sessions`),
            "Signed out everywhere.",
          ),
        }, h("button", { type: "submit", class: "danger" }, "Revoke all sessions"))
        : null,
    ),
    keys
      ? h(
        "section",
        { class: "card", "aria-labelledby": "keys" },
        h("h2", { id: "keys" }, "API keys"),
        context.secret ? secretPanel(context.secret) : null,
        keyTable(keys.keys, { can, notify, refresh }),
        can("keys:write") ? createKeyForm(userId, { notify, refresh }) : null,
      )
      : null,
    audit
      ? h(
        "section",
        { class: "card", "aria-labelledby": "trail" },
        h("h2", { id: "trail" }, "Audit trail"),
        auditTable(audit.events, "Events about this user, their keys and sessions, newest first"),
        h("p", {}, h("a", { href: `#/audit?subject=${userId}` }, "All events about this user")),
      )
      : null,
  );
}

/**
 * One key per submission, however often it is clicked: the button is busy while the request is
 * out, and the form keeps one Idempotency-Key until a key is made (a lost answer, sent again,
 * replays instead of making a second key).
 */
function createKeyForm(userId, { notify, refresh }) {
  const idempotencyKey = crypto.randomUUID();
  const button = h("button", { type: "submit" }, "Create key");
  return h(
    "form",
    {
      class: "inline",
      "aria-label": "Create an API key",
      async onsubmit(event) {
        event.preventDefault();
        if (button.disabled) return;
        const values = formValues(event.currentTarget);
        button.disabled = true;
        button.setAttribute("aria-busy", "true");
        try {
          const answer = await api("POST", "/admin/keys", {
            body: {
              userId,
              ...(values.name ? { name: values.name } : {}),
              ...(values.scopes ? { scopes: values.scopes.split(/[\s,]+/).filter(Boolean) } : {}),
              ...(values.expiresInDays ? { expiresInDays: Number(values.expiresInDays) } : {}),
              keyType: values.keyType ?? "human",
            },
            idempotencyKey,
          });
          await refresh(answer);
        } catch (error) {
          button.disabled = false;
          button.removeAttribute("aria-busy");
          notify(error);
        }
      },
    },
    h("h3", {}, "Create a key"),
    field("Name", h("input", { name: "name", autocomplete: "off" })),
    field(
      "Scopes",
      h("input", { name: "scopes", placeholder: "compile" }),
      "Comma-separated; empty: the default scopes.",
    ),
    field(
      "Expires in days",
      h("input", { name: "expiresInDays", type: "number", min: 1, max: 3650 }),
    ),
    field(
      "Type",
      select(
        "keyType",
        [["human", "human"], ["ci", "ci"], ["integration", "integration"]],
        "human",
      ),
    ),
    button,
  );
}
