import { api, apiDownload } from "../api.js";
import { field, formValues, h, select, show } from "../dom.js";
import { auditTable } from "./audit_table.js";
import { pager } from "./pager.js";

// <input type="datetime-local"> speaks local time without a zone; the API wants an instant.
const toInstant = (local) => local ? new Date(local).toISOString() : undefined;
const toLocal = (iso) => {
  if (!iso) return "";
  const date = new Date(iso);
  return new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};

const perPage = [["10", "10"], ["25", "25"], ["50", "50"], ["100", "100"], ["200", "200"]];

/**
 * The audit log: actor, action, target, user and time filters, cursor pages, JSON, NDJSON
 * export.
 */
export async function renderAudit(main, { params, navigate, notify }) {
  const query = Object.fromEntries(params);
  const [page, { actions }] = await Promise.all([
    api("GET", "/admin/audit", {
      query: {
        actorId: query.actorId,
        action: query.action,
        targetId: query.targetId,
        subject: query.subject,
        since: query.since,
        until: query.until,
        cursor: query.cursor,
        limit: query.limit ?? 50,
      },
    }),
    api("GET", "/admin/audit/actions"),
  ]);

  async function exportRange() {
    const since = query.since ?? new Date(Date.now() - 86_400_000).toISOString();
    try {
      const blob = await apiDownload("/admin/audit/export", { since, until: query.until });
      const link = h("a", {
        href: URL.createObjectURL(blob),
        download: `latchkey-audit-${since.slice(0, 10)}.ndjson`,
      });
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
      notify(`Exported ${blob.size} bytes of NDJSON.`);
    } catch (error) {
      notify(error);
    }
  }

  show(
    main,
    h("h1", {}, "Audit log"),
    h(
      "form",
      {
        class: "filters",
        role: "search",
        "aria-label": "Filter audit events",
        onsubmit(event) {
          event.preventDefault();
          const values = formValues(event.currentTarget);
          navigate("/audit", {
            ...values,
            since: toInstant(values.since),
            until: toInstant(values.until),
          });
        },
      },
      field("Actor id", h("input", { name: "actorId", value: query.actorId ?? "", size: 36 })),
      field(
        "Action",
        h("input", {
          name: "action",
          value: query.action ?? "",
          list: "audit-actions",
          autocomplete: "off",
          size: 30,
        }),
        "Bans are admin.user_updated.",
      ),
      // The actions that exist, from the API's catalogue: the field suggests only real ones.
      h(
        "datalist",
        { id: "audit-actions" },
        actions.map(({ action, description }) => h("option", { value: action }, description)),
      ),
      field("Target id", h("input", { name: "targetId", value: query.targetId ?? "", size: 36 })),
      field(
        "About user (id)",
        h("input", { name: "subject", value: query.subject ?? "", size: 36 }),
        "The user, their keys and sessions.",
      ),
      field(
        "Since",
        h("input", { name: "since", type: "datetime-local", value: toLocal(query.since) }),
      ),
      field(
        "Until",
        h("input", { name: "until", type: "datetime-local", value: toLocal(query.until) }),
      ),
      field("Per page", select("limit", perPage, query.limit ?? "50")),
      h("button", { type: "submit" }, "Filter"),
    ),
    h(
      "p",
      {},
      h("button", { type: "button", onclick: exportRange }, "Export NDJSON"),
      h(
        "small",
        { class: "muted" },
        " The time range above (default: the last 24 hours), every event.",
      ),
    ),
    auditTable(page.events),
    pager("/audit", params, page.nextCursor, navigate),
  );
}
