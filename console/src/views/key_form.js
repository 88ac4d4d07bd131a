import { field, formValues, h, select } from "../dom.js";

/**
 * Creating a key, for a user (staff, `/admin/keys`) or an organization (`/orgs/:id/keys`):
 * `create(body, idempotencyKey)` sends it and resolves with the API's answer, which `refresh`
 * draws with the secret shown once. `scopes`: the scopes the owner may grant, offered as
 * checkboxes (none ticked: the API's default); null, a free text field. `keyTypes`: offer the key
 * type (only the staff's route takes one). `nameRequired`: the route needs a name.
 *
 * One key per submission, however often it is clicked: the button is busy while the request is
 * out, and the form keeps one Idempotency-Key until a key is made (a lost answer, sent again,
 * replays instead of making a second key).
 */
export function createKeyForm(
  { create, scopes = null, keyTypes = false, nameRequired = false, notify, refresh },
) {
  const idempotencyKey = crypto.randomUUID();
  const button = h("button", { type: "submit" }, "Create key");
  const form = h(
    "form",
    {
      class: "inline",
      "aria-label": "Create an API key",
      async onsubmit(event) {
        event.preventDefault();
        if (button.disabled) return;
        const values = formValues(form);
        const chosen = scopes
          ? [...form.querySelectorAll("input[name=scope]:checked")].map((box) => box.value)
          : (values.scopes ?? "").split(/[\s,]+/).filter(Boolean);
        button.disabled = true;
        button.setAttribute("aria-busy", "true");
        try {
          const answer = await create({
            ...(values.name ? { name: values.name } : {}),
            ...(chosen.length ? { scopes: chosen } : {}),
            ...(values.expiresInDays ? { expiresInDays: Number(values.expiresInDays) } : {}),
            ...(keyTypes ? { keyType: values.keyType ?? "human" } : {}),
          }, idempotencyKey);
          await refresh(answer);
        } catch (error) {
          button.disabled = false;
          button.removeAttribute("aria-busy");
          notify(error);
        }
      },
    },
    h("h3", {}, "Create a key"),
    field("Name", h("input", { name: "name", autocomplete: "off", required: nameRequired })),
    scopes
      ? h(
        "fieldset",
        { class: "choices" },
        h("legend", {}, "Scopes"),
        scopes.length
          ? scopes.map((scope) =>
            h(
              "label",
              {},
              h("input", { type: "checkbox", name: "scope", value: scope }),
              " ",
              scope,
            )
          )
          : h("span", { class: "muted" }, "None may be granted."),
      )
      : field(
        "Scopes",
        h("input", { name: "scopes", placeholder: "compile" }),
        "Comma-separated; empty: the default scopes.",
      ),
    field(
      "Expires in days",
      h("input", { name: "expiresInDays", type: "number", min: 1, max: 3650 }),
    ),
    keyTypes
      ? field(
        "Type",
        select(
          "keyType",
          [["human", "human"], ["ci", "ci"], ["integration", "integration"]],
          "human",
        ),
      )
      : null,
    button,
  );
  return form;
}
