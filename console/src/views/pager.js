import { h } from "../dom.js";

/** Cursor paging: the next page is a new URL, so the browser's Back button is "previous". */
export function pager(path, params, nextCursor, navigate) {
  const here = Object.fromEntries(params);
  return h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    here.cursor
      ? h(
        "button",
        { type: "button", onclick: () => navigate(path, { ...here, cursor: "" }) },
        "First page",
      )
      : null,
    nextCursor
      ? h("button", {
        type: "button",
        onclick: () => navigate(path, { ...here, cursor: nextCursor }),
      }, "Next page")
      : h("span", { class: "muted" }, "End of the list."),
  );
}
