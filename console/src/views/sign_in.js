import { api, consoleConfig, supabaseSignIn } from "../api.js";
import { field, formValues, h, show } from "../dom.js";

/** Sign in with email and password (a Latchkey or Supabase Auth session) or an API key. */
export function renderSignIn(main, { onSignedIn, notify }) {
  const config = consoleConfig();
  const busy = (form, on) => {
    for (const control of form.elements) control.disabled = on;
  };

  async function withPassword(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const { email, password } = formValues(form);
    busy(form, true);
    try {
      if (config.identity === "supabase") {
        const token = await supabaseSignIn(email ?? "", password ?? "");
        await onSignedIn({ kind: "supabase", token });
      } else {
        const answer = await api("POST", "/auth/sign-in/email", {
          body: { email: email ?? "", password: password ?? "" },
          token: null,
        });
        await onSignedIn({ kind: "session", token: answer.session.token });
      }
    } catch (error) {
      notify(error);
      busy(form, false);
    }
  }

  async function withKey(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const { apiKey } = formValues(form);
    busy(form, true);
    try {
      // The key must be one the API accepts before the console keeps it.
      await api("GET", "/auth/session", { token: apiKey ?? "" });
      await onSignedIn({ kind: "apiKey", token: apiKey });
    } catch (error) {
      notify(error);
      busy(form, false);
    }
  }

  show(
    main,
    h("h1", {}, "Sign in"),
    h(
      "div",
      { class: "columns" },
      h(
        "form",
        { class: "card", onsubmit: withPassword, "aria-labelledby": "with-password" },
        h(
          "h2",
          { id: "with-password" },
          config.identity === "supabase" ? "Supabase Auth account" : "Email and password",
        ),
        field(
          "Email",
          h("input", { name: "email", type: "email", autocomplete: "username", required: true }),
        ),
        field(
          "Password",
          h("input", {
            name: "password",
            type: "password",
            autocomplete: "current-password",
            required: true,
          }),
        ),
        h("button", { type: "submit" }, "Sign in"),
      ),
      h(
        "form",
        { class: "card", onsubmit: withKey, "aria-labelledby": "with-key" },
        h("h2", { id: "with-key" }, "API key"),
        field(
          "Admin-scoped API key",
          h("input", {
            name: "apiKey",
            type: "password",
            autocomplete: "off",
            required: true,
            spellcheck: "false",
          }),
          "Kept in this tab only (sessionStorage); its scopes decide what you may do.",
        ),
        h("button", { type: "submit" }, "Use key"),
      ),
    ),
  );
}
