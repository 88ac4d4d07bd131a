import { api } from "../api.js";
import { field, formValues, h, show } from "../dom.js";
import { adminKeyActions, keyTable, secretPanel } from "./key_table.js";
import { pager } from "./pager.js";

/** Every key, newest first, with owner, type, last use and expiry; revoke and rotate. */
export async function renderKeys(main, context) {
  const { params, can, navigate, notify } = context;
  const query = Object.fromEntries(params);
  const page = await api("GET", "/admin/keys", {
    query: {
      userId: query.userId,
      unusedForDays: query.unusedForDays,
      cursor: query.cursor,
      limit: 50,
    },
  });
  const refresh = (secret) => renderKeys(main, { ...context, secret });
  show(
    main,
    h("h1", {}, "Keys"),
    h(
      "form",
      {
        class: "filters",
        role: "search",
        "aria-label": "Filter keys",
        onsubmit(event) {
          event.preventDefault();
          navigate("/keys", formValues(event.currentTarget));
        },
      },
      field(
        "Owner id",
        h("input", {
          name: "userId",
          value: query.userId ?? "",
          size: 36,
          pattern: "[0-9a-fA-F\\-]{36}",
        }),
      ),
      field(
        "Unused for days",
        h("input", {
          name: "unusedForDays",
          type: "number",
          min: 1,
          max: 3650,
          value: query.unusedForDays ?? "",
        }),
        "Active keys not used in that many days (never-used ones count from their creation).",
      ),
      h("button", { type: "submit" }, "Filter"),
    ),
    context.secret ? secretPanel(context.secret) : null,
    keyTable(page.keys, { actions: adminKeyActions(can), notify, refresh, showOwner: true }),
    pager("/keys", params, page.nextCursor, navigate),
  );
}
