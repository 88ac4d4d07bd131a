import { api } from "../api.js";
import { field, h, select, show, table, when } from "../dom.js";
import { actingThen } from "./acting.js";
import { auditTable } from "./audit_table.js";
import { adminKeyActions, keyTable, secretPanel } from "./key_table.js";
import { createKeyForm } from "./key_form.js";
import { platformRoleNames, roleOptions } from "./role_names.js";
import { factorKind, secondFactorState } from "./second_factors.js";

/**
 * One person: profile and account state, the changes the caller may make (role, tier, ban,
 * password), their second factors (reset them), their sessions, their keys and what the audit
 * log says about them and those.
 */
export async function renderUser(main, context) {
  const { userId, notify } = context;
  const [{ user, callerMay }, sessions, factors, keys, audit] = await Promise.all([
    api("GET", `/admin/users/${userId}`),
    api("GET", `/admin/users/${userId}/sessions`),
    api("GET", `/admin/users/${userId}/factors`),
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

  const act = actingThen({ notify, refresh });
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
        h("dt", {}, "Second factor"),
        h("dd", { "data-testid": "user-second-factor" }, secondFactorState(user)),
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
                roleOptions(await platformRoleNames(context.can, user.role)),
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
    factorsSection(user, factors, { can, notify, refresh }),
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
        keyTable(keys.keys, { actions: adminKeyActions(can), notify, refresh }),
        can("keys:write")
          ? createKeyForm({
            create: (body, idempotencyKey) =>
              api("POST", "/admin/keys", { body: { userId, ...body }, idempotencyKey }),
            keyTypes: true,
            notify,
            refresh,
          })
          : null,
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
 * Their second factors and recovery codes left (never a secret), and, where the caller's
 * permissions reach this account, a reset for someone who lost theirs: every factor and code
 * goes and every session ends, so it asks first; the API asks for a fresh factor of the
 * caller's own (step-up, which the console's dialog answers).
 */
function factorsSection(user, { factors, recoveryCodesLeft }, { can, notify, refresh }) {
  const actions = h("div", { class: "actions" });
  const offer = () =>
    actions.replaceChildren(
      h("button", {
        type: "button",
        class: "danger",
        onclick: () => actions.replaceChildren(confirmation()),
      }, "Reset second factors"),
    );
  const confirmation = () => {
    const go = h("button", {
      type: "button",
      class: "danger",
      async onclick() {
        go.disabled = true;
        try {
          const reset = await api("DELETE", `/admin/users/${user.id}/factors`);
          await refresh();
          notify(
            `Second factors reset: ${reset.factorsRemoved} factor(s) and ` +
              `${reset.recoveryCodesRemoved} recovery code(s) removed, ` +
              `${reset.revokedSessions} session(s) ended.`,
          );
        } catch (error) {
          go.disabled = false;
          notify(error);
        }
      },
    }, "Reset and end their sessions");
    return h(
      "div",
      { class: "confirm", role: "group", "aria-labelledby": "reset-factors-question" },
      h(
        "p",
        { id: "reset-factors-question" },
        `Remove every second factor and recovery code of ${user.email}? All their sessions ` +
          "end now; they sign in with their password alone and add a factor again.",
      ),
      h(
        "div",
        { class: "actions" },
        go,
        h("button", {
          type: "button",
          class: "secondary",
          onclick: offer,
        }, "Cancel"),
      ),
    );
  };
  const resettable = factors.length > 0 || recoveryCodesLeft > 0;
  if (can("users:write") && resettable) offer();
  return h(
    "section",
    { class: "card", "aria-labelledby": "second-factors" },
    h("h2", { id: "second-factors" }, `Second factors (${factors.length})`),
    table(
      "Their second factors",
      [
        ["Name", (factor) => factor.name],
        ["Kind", (factor) => factorKind(factor.type)],
        [
          "State",
          (factor) => factor.confirmed ? "confirmed" : h("span", { class: "bad" }, "not confirmed"),
        ],
        ["Added", (factor) => when(factor.createdAt)],
        ["Last used", (factor) => when(factor.lastUsedAt)],
      ],
      factors,
      user.secondFactors.required && !user.isServiceAccount
        ? `No second factor: as ${user.role}, they must add one before they can act.`
        : "No second factor: a password alone protects this account.",
    ),
    factors.length > 0 || recoveryCodesLeft > 0
      ? h(
        "p",
        { "data-testid": "user-recovery-left" },
        `Recovery codes left: ${recoveryCodesLeft} of 10.`,
      )
      : null,
    actions.childElementCount ? actions : null,
  );
}
