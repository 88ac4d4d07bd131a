/**
 * Elements from plain data: text is always a text node, never parsed as HTML, so nothing the
 * API returns (a user's name, an audit event's metadata) can become markup or script.
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "class") {
      element.className = value;
    } else if (["value", "checked", "disabled", "selected"].includes(name)) {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  element.append(...nodes(children));
  return element;
}

function nodes(children) {
  return children.flat(Infinity)
    .filter((child) => child !== null && child !== undefined && child !== false)
    .map((child) => child instanceof Node ? child : document.createTextNode(String(child)));
}

/** Replaces everything inside `element`. */
export function show(element, ...children) {
  element.replaceChildren(...nodes(children));
}

/** A date for people; the full ISO time stays in the title. */
export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return h(
    "time",
    { datetime: iso, title: iso },
    date.toLocaleString("en-GB", {
      dateStyle: "medium",
      timeStyle: "short",
      timeZone: "UTC",
    }) + " UTC",
  );
}

/** A labelled field; `control` is an input, select or textarea made with h(). */
export function field(label, control, hint) {
  const id = control.id || `f-${crypto.randomUUID().slice(0, 8)}`;
  control.id = id;
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    control,
    hint ? h("small", {}, hint) : null,
  );
}

export function select(name, options, current) {
  return h(
    "select",
    { name },
    options.map(([value, label]) =>
      h("option", { value, selected: value === (current ?? "") }, label)
    ),
  );
}

/** A table from rows; `columns` are [heading, cell(row)]. */
export function table(caption, columns, rows, empty = "Nothing here.") {
  if (rows.length === 0) return h("p", { class: "empty" }, empty);
  return h(
    "table",
    {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, columns.map(([heading]) => h("th", { scope: "col" }, heading)))),
    h(
      "tbody",
      {},
      rows.map((row) => h("tr", {}, columns.map(([, cell]) => h("td", {}, cell(row))))),
    ),
  );
}

/** The values of a form's named controls, empty ones left out. */
export function formValues(form) {
  const values = {};
  for (const [name, value] of new FormData(form)) {
    if (typeof value === "string" && value.trim() !== "") values[name] = value.trim();
  }
  return values;
}
