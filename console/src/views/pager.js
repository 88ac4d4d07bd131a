import { h } from "../dom.js";

/**
 * Cursor paging: the next page is a new URL, so the browser's Back button is "previous". A page
 * with two lists names the second's cursor parameter (`param`) and its navigation (`label`).
 */
export function pager(
  path,
  params,
  nextCursor,
  navigate,
  { param = "cursor", label = "Pages" } = {},
) {
  const here = Object.fromEntries(params);
  return h(
    "nav",
    { class: "pager", "aria-label": label },
    here[param]
      ? h(
        "button",
        { type: "button", onclick: () => navigate(path, { ...here, [param]: "" }) },
        "First page",
      )
      : null,
    nextCursor
      ? h("button", {
        type: "button",
        onclick: () => navigate(path, { ...here, [param]: nextCursor }),
      }, "Next page")
      : h("span", { class: "muted" }, "End of the list."),
  );
}
