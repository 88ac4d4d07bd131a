import { api } from "../api.js";
import { h, table, when } from "../dom.js";
import { rotateChoice } from "./rotate_choice.js";

function keyState(key) {
  if (key.revokedAt) return h("span", { class: "bad" }, "revoked");
  if (key.expiresAt && new Date(key.expiresAt) <= new Date()) {
    return h("span", { class: "bad" }, "expired");
  }
  if (key.enabled === false) return h("span", { class: "bad" }, "disabled");
  if (key.replacedBy) return "rotated, overlapping";
  return "active";
}

/**
 * A new key's secret, shown once: the API never returns it again (a replay answers null), so
 * the panel says so and offers a copy button.
 */
export function secretPanel(answer) {
  const status = h("span", { role: "status", class: "muted" });
  return h(
    "div",
    { class: "secret card", "aria-labelledby": "secret-title" },
    h("h3", { id: "secret-title" }, `Key "${answer.name}" created`),
    h("p", {}, "Copy it now: it is shown once and cannot be shown again."),
    h(
      "code",
      { class: "secret-value", "data-testid": "new-key" },
      answer.key ?? "(not shown: this was a replay)",
    ),
    " ",
    answer.key
      ? h("button", {
        type: "button",
        async onclick() {
          try {
            await navigator.clipboard.writeText(answer.key);
            status.textContent = "Copied.";
          } catch {
            status.textContent = "Copying was refused by the browser; select the key and copy it.";
          }
        },
      }, "Copy key")
      : null,
    " ",
    status,
  );
}

/** How long the old secret may keep working after a rotation; the first is the default. */
const overlaps = [
  ["0", "stops now (a leaked key)"],
  ["3600", "1 hour"],
  ["86400", "1 day"],
  ["604800", "7 days"],
];

/**
 * Rotation asks how long the old secret keeps working: "stops now" for a leaked key (the
 * default), or an overlap for a planned one while its users move to the new secret.
 */
function rotateKeyChoice(key, { rotate, notify, refresh }) {
  return rotateChoice({
    overlaps,
    label: "Old secret works for ",
    selectLabel: `Old secret of ${key.name} works for`,
    buttonLabel: `Rotate key ${key.name} now`,
    async rotate(overlapSeconds) {
      await refresh(await rotate(key, overlapSeconds));
    },
    notify,
  });
}

/**
 * A key's network limits in a cell: its client networks and browser origins, or "any"; a key in
 * its rotation's overlap answers to its successor's.
 */
function networkLimits(key) {
  if (key.replacedBy && !key.revokedAt) {
    return h("span", { class: "muted", "data-testid": "network-limits" }, "its successor's");
  }
  const limits = [...(key.allowedNetworks ?? []), ...(key.allowedOrigins ?? [])];
  return limits.length
    ? h("span", { "data-testid": "network-limits" }, limits.join(", "))
    : h("span", { class: "muted", "data-testid": "network-limits" }, "any");
}

/** One entry a line, blank lines left out. */
function lines(text) {
  return text.split("\n").map((line) => line.trim()).filter(Boolean);
}

/**
 * An editor of a key's network limits, one network (CIDR) or origin a line; saving sends both
 * lists, an empty one lifting that limit. The API checks every line and its refusal names the
 * bad one (`allowedNetworks.1`).
 */
function networkLimitsEditor(key, { updateLimits, notify, refresh }) {
  const area = (name, label, values) =>
    h("textarea", { name, rows: 3, cols: 30, "aria-label": `${label} of ${key.name}` }, values);
  const networks = area(
    "allowedNetworks",
    "Allowed networks",
    (key.allowedNetworks ?? []).join("\n"),
  );
  const origins = area("allowedOrigins", "Allowed origins", (key.allowedOrigins ?? []).join("\n"));
  const save = h("button", {
    type: "button",
    "aria-label": `Save network limits of ${key.name}`,
    async onclick() {
      save.disabled = true;
      try {
        await updateLimits(key, {
          allowedNetworks: lines(networks.value),
          allowedOrigins: lines(origins.value),
        });
        await refresh();
        notify(`Saved the network limits of "${key.name}".`);
      } catch (error) {
        save.disabled = false;
        notify(error);
      }
    },
  }, "Save limits");
  return h(
    "span",
    { class: "limits-editor" },
    h("label", {}, "Networks (CIDR, one a line) ", networks),
    h("label", {}, "Origins (one a line) ", origins),
    save,
  );
}

/**
 * What may be done to a key and how, through the staff's routes: where the caller may on this
 * page (`can`) and on the key's owner (its `callerMay`, the API's reach rule).
 */
export function adminKeyActions(can) {
  const may = (key, permission) => can(permission) && key.callerMay.includes(permission);
  return {
    mayRevoke: (key) => may(key, "keys:revoke"),
    mayRotate: (key) => may(key, "keys:write"),
    mayEditLimits: (key) => may(key, "keys:write"),
    revoke: (key) => api("POST", `/admin/keys/${key.id}/revoke`, { idempotent: true }),
    updateLimits: (key, body) => api("PATCH", `/admin/keys/${key.id}`, { body }),
    rotate: (key, overlapSeconds) =>
      api("POST", `/admin/keys/${key.id}/rotate`, { body: { overlapSeconds }, idempotent: true }),
  };
}

/** Keys shown and not touched. */
export const readOnlyKeys = {
  mayRevoke: () => false,
  mayRotate: () => false,
  mayEditLimits: () => false,
};

/**
 * Keys with type, scopes, last use and expiry, and the owner (`showOwner`) or who made each
 * (`createdBy(key)`, a cell); revoke, rotate and edit network limits as `actions` allow
 * (adminKeyActions, or an organization's routes: `{mayRevoke(key), mayRotate(key),
 * mayEditLimits(key), revoke(key), rotate(key, overlapSeconds), updateLimits(key, body)}`, the
 * last three resolving with the API's answer).
 * `refresh(secret?)` redraws the page, showing a new key's secret once when given.
 */
export function keyTable(keys, { actions, notify, refresh, showOwner, createdBy }) {
  const cell = (key) => {
    if (key.revokedAt) return "—";
    return h(
      "span",
      { class: "actions" },
      actions.mayRevoke(key)
        ? h("button", {
          type: "button",
          class: "danger",
          "aria-label": `Revoke key ${key.name}`,
          async onclick() {
            if (!confirm(`Revoke "${key.name}"? Anything using it stops working at once.`)) return;
            try {
              await actions.revoke(key);
              await refresh();
              notify(`Revoked "${key.name}".`);
            } catch (error) {
              notify(error);
            }
          },
        }, "Revoke")
        : null,
      actions.mayRotate(key) && !key.replacedBy
        ? h("button", {
          type: "button",
          "aria-label": `Rotate key ${key.name}`,
          onclick(event) {
            event.currentTarget.replaceWith(
              rotateKeyChoice(key, { rotate: actions.rotate, notify, refresh }),
            );
          },
        }, "Rotate")
        : null,
      actions.mayEditLimits(key) && !key.replacedBy
        ? h("button", {
          type: "button",
          "aria-label": `Edit network limits of ${key.name}`,
          onclick(event) {
            event.currentTarget.replaceWith(
              networkLimitsEditor(key, { updateLimits: actions.updateLimits, notify, refresh }),
            );
          },
        }, "Limits")
        : null,
    );
  };
  const acting = keys.some((key) =>
    actions.mayRevoke(key) || actions.mayRotate(key) || actions.mayEditLimits(key)
  );
  return table(
    "API keys",
    [
      ["Name", (key) => key.name],
      ["Prefix", (key) => h("code", {}, key.keyPrefix)],
      ...(showOwner
        ? [[
          "Owner",
          // An organization's key has no user: its owner is the organization.
          (key) =>
            key.ownerType === "org"
              ? h("span", { title: key.orgId }, `organization ${key.orgId.slice(0, 8)}…`)
              : h("a", { href: `#/users/${key.userId}` }, `${key.userId.slice(0, 8)}…`),
        ]]
        : []),
      ...(createdBy ? [["Created by", createdBy]] : []),
      ["Type", (key) => key.keyType],
      ["Scopes", (key) => key.scopes.join(", ") || "none"],
      ["Last used", (key) => when(key.lastUsedAt)],
      ["Expires", (key) => key.expiresAt ? when(key.expiresAt) : "never"],
      ["Network limits", networkLimits],
      ["State", keyState],
      ...(acting ? [["", cell]] : []),
    ],
    keys,
    "No keys.",
  );
}
