import { api } from "../api.js";
import { field, formValues, h, show, table, when } from "../dom.js";
import { actingThen } from "./acting.js";
import { pager } from "./pager.js";
import { rotateChoice } from "./rotate_choice.js";

/**
 * Webhook endpoints (audit events out as Standard Webhooks messages): list, register (the
 * secret shown once), enable and disable, rotate the secret, send a test message, delete; and
 * an endpoint's delivery log. With webhooks:read only, nothing is offered but reading.
 */
export async function renderWebhooks(main, context) {
  const { params, can, navigate, notify } = context;
  const query = Object.fromEntries(params);
  const page = await api("GET", "/admin/webhooks", {
    query: { cursor: query.cursor, limit: 50 },
  });
  const writer = can("webhooks:write");
  const refresh = (secret) => renderWebhooks(main, { ...context, secret });
  show(
    main,
    h("h1", {}, "Webhooks"),
    h(
      "p",
      { class: "muted" },
      "Audit events sent as signed Standard Webhooks messages to the endpoints below.",
    ),
    context.secret ? webhookSecretPanel(context.secret) : null,
    table(
      "Webhook endpoints, newest first",
      [
        ["URL", (hook) => h("a", { href: `#/webhooks/${hook.id}` }, hook.url)],
        ["Events", (hook) => hook.events.join(", ")],
        ["Description", (hook) => hook.description || "—"],
        ["State", endpointState],
        ["Created", (hook) => when(hook.createdAt)],
        ...(writer ? [["", (hook) => endpointActions(hook, { notify, refresh })]] : []),
      ],
      page.webhooks,
      "No webhook endpoints.",
    ),
    pager("/webhooks", params, page.nextCursor, navigate),
    writer ? registerForm({ notify, refresh }) : null,
  );
}

function endpointState(hook) {
  const state = hook.enabled ? "enabled" : h("span", { class: "bad" }, "disabled");
  if (!hook.previousSecretExpiresAt) return state;
  return h(
    "span",
    {},
    state,
    h("br"),
    h("small", { class: "muted" }, "old secret signs until "),
    when(hook.previousSecretExpiresAt),
  );
}

/**
 * A new signing secret, shown once: the API never returns it again (a replayed registration
 * answers null).
 */
function webhookSecretPanel(answer) {
  const status = h("span", { role: "status", class: "muted" });
  return h(
    "div",
    { class: "secret card", "aria-labelledby": "webhook-secret-title" },
    h("h2", { id: "webhook-secret-title" }, answer.title),
    h(
      "p",
      {},
      "Copy the signing secret now: it is shown once. Verify messages with it (any Standard " +
        "Webhooks library).",
    ),
    h(
      "code",
      { class: "secret-value", "data-testid": "webhook-secret" },
      answer.secret ?? "(not shown: this was a replay)",
    ),
    " ",
    answer.secret
      ? h("button", {
        type: "button",
        async onclick() {
          try {
            await navigator.clipboard.writeText(answer.secret);
            status.textContent = "Copied.";
          } catch {
            status.textContent =
              "Copying was refused by the browser; select the secret and copy it.";
          }
        },
      }, "Copy secret")
      : null,
    " ",
    status,
  );
}

const overlaps = [
  ["86400", "1 day"],
  ["3600", "1 hour"],
  ["604800", "7 days"],
  ["0", "stops now (a leaked secret)"],
];

function rotateSecretChoice(hook, { notify, refresh }) {
  return rotateChoice({
    overlaps,
    label: "Old secret signs for ",
    selectLabel: `Old secret of ${hook.url} signs for`,
    buttonLabel: `Rotate secret of ${hook.url} now`,
    async rotate(overlapSeconds) {
      const answer = await api("POST", `/admin/webhooks/${hook.id}/rotate-secret`, {
        body: { overlapSeconds },
        idempotent: true,
      });
      await refresh({ title: `New secret for ${hook.url}`, secret: answer.secret });
    },
    notify,
  });
}

function endpointActions(hook, { notify, refresh }) {
  const act = actingThen({ notify, refresh });
  return h(
    "span",
    { class: "actions" },
    h("button", {
      type: "button",
      "aria-label": `${hook.enabled ? "Disable" : "Enable"} ${hook.url}`,
      onclick: act(
        () => api("PATCH", `/admin/webhooks/${hook.id}`, { body: { enabled: !hook.enabled } }),
        `${hook.enabled ? "Disabled" : "Enabled"} ${hook.url}.`,
      ),
    }, hook.enabled ? "Disable" : "Enable"),
    hook.enabled
      ? h("button", {
        type: "button",
        "aria-label": `Send test to ${hook.url}`,
        onclick: act(
          () => api("POST", `/admin/webhooks/${hook.id}/test`, { idempotent: true }),
          `Test event queued for ${hook.url}.`,
        ),
      }, "Send test")
      : null,
    h("button", {
      type: "button",
      "aria-label": `Rotate secret of ${hook.url}`,
      onclick(event) {
        event.currentTarget.replaceWith(rotateSecretChoice(hook, { notify, refresh }));
      },
    }, "Rotate secret"),
    h("button", {
      type: "button",
      class: "danger",
      "aria-label": `Delete ${hook.url}`,
      onclick() {
        if (!confirm(`Delete the endpoint ${hook.url} and its queued messages?`)) return;
        return act(
          () => api("DELETE", `/admin/webhooks/${hook.id}`),
          `Deleted ${hook.url}.`,
        )();
      },
    }, "Delete"),
  );
}

function registerForm({ notify, refresh }) {
  // Kept until the registration succeeds: a second click, or a retry after a failure, is the
  // same request and cannot make a second endpoint.
  let idempotencyKey = crypto.randomUUID();
  async function register(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const button = form.querySelector("button[type=submit]");
    const values = formValues(form);
    button.disabled = true;
    try {
      const answer = await api("POST", "/admin/webhooks", {
        body: {
          url: values.url ?? "",
          events: (values.events ?? "*").split(",").map((name) => name.trim()).filter(Boolean),
          ...(values.description ? { description: values.description } : {}),
        },
        idempotencyKey,
      });
      idempotencyKey = crypto.randomUUID();
      await refresh({ title: `Endpoint ${answer.url} registered`, secret: answer.secret });
    } catch (error) {
      button.disabled = false;
      notify(error);
    }
  }
  return h(
    "form",
    { class: "card", onsubmit: register, "aria-labelledby": "register-webhook" },
    h("h2", { id: "register-webhook" }, "Register an endpoint"),
    field(
      "URL",
      h("input", { name: "url", type: "url", required: true, size: 60, autocomplete: "off" }),
      "https://, a host that resolves to public addresses only.",
    ),
    field(
      "Events",
      h("input", { name: "events", value: "*", size: 40, autocomplete: "off" }),
      "Audit actions, comma-separated: names, prefixes such as auth.*, or * for every event.",
    ),
    field("Description", h("input", { name: "description", size: 40, autocomplete: "off" })),
    h("button", { type: "submit" }, "Register endpoint"),
  );
}

function deliveryState(delivery) {
  if (delivery.status === "failed") return h("span", { class: "bad" }, "failed");
  // The oldest over the endpoint's backlog limit: never sent unless retried.
  if (delivery.status === "dropped") return h("span", { class: "bad" }, "dropped");
  if (delivery.status === "delivered") return "delivered";
  return delivery.attempts > 0 ? h("span", { class: "bad" }, "retrying") : "pending";
}

/** One endpoint's delivery log, newest first: state, attempts, last answer, latency, retry. */
export async function renderWebhookDeliveries(main, context) {
  const { webhookId, params, can, navigate, notify } = context;
  const query = Object.fromEntries(params);
  const page = await api("GET", `/admin/webhooks/${webhookId}/deliveries`, {
    query: { cursor: query.cursor, limit: 50 },
  });
  const writer = can("webhooks:write");
  const path = `/webhooks/${webhookId}`;
  const refresh = () => renderWebhookDeliveries(main, context);
  const act = actingThen({ notify, refresh });
  show(
    main,
    h("p", {}, h("a", { href: "#/webhooks" }, "← Webhooks")),
    h("h1", {}, "Deliveries ", h("small", { class: "muted" }, `endpoint ${webhookId}`)),
    h(
      "p",
      { class: "actions" },
      h("button", { type: "button", onclick: act(() => {}, "Refreshed.") }, "Refresh"),
      writer
        ? h("button", {
          type: "button",
          onclick: act(
            () => api("POST", `/admin/webhooks/${webhookId}/test`, { idempotent: true }),
            "Test event queued.",
          ),
        }, "Send test event")
        : null,
    ),
    table(
      "Deliveries, newest first",
      [
        ["Type", (delivery) => h("code", {}, delivery.type)],
        ["State", deliveryState],
        ["Attempts", (delivery) => String(delivery.attempts)],
        [
          "Last answer",
          (delivery) =>
            delivery.lastAttemptAt
              ? `${delivery.lastStatus ?? "no answer"}${
                delivery.lastResponse ? `: ${delivery.lastResponse}` : ""
              }`
              : "—",
        ],
        [
          "Latency",
          (delivery) => delivery.lastLatencyMs === null ? "—" : `${delivery.lastLatencyMs} ms`,
        ],
        ["Next retry", (delivery) => when(delivery.nextAttemptAt)],
        ["Queued", (delivery) => when(delivery.createdAt)],
        ["Message id", (delivery) => h("code", {}, delivery.id)],
        ...(writer
          ? [["", (delivery) =>
            delivery.status === "delivered" ? "—" : h("button", {
              type: "button",
              "aria-label": `Retry ${delivery.id}`,
              onclick: act(
                () =>
                  api("POST", `/admin/webhooks/deliveries/${delivery.id}/retry`, {
                    idempotent: true,
                  }),
                "Queued again.",
              ),
            }, "Retry")]]
          : []),
      ],
      page.deliveries,
      "No deliveries yet.",
    ),
    pager(path, params, page.nextCursor, navigate),
  );
}
