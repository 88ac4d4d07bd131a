import { api, consoleConfig, supabaseSignIn } from "../api.js";
import { field, formValues, h, show } from "../dom.js";
import { passkeysSupported, usePasskey } from "../passkeys.js";
import { factorCodeForm } from "./factor_code.js";

/**
 * Sign in with email and password (a Latchkey or Supabase Auth session) or an API key; an
 * account with a second factor is then asked for its code.
 */
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
        if (answer.challenge) return askForFactor(answer);
        await onSignedIn({ kind: "session", token: answer.session.token });
      }
    } catch (error) {
      notify(error);
      busy(form, false);
    }
  }

  /**
   * The password was right and the account has a second factor: the answer is a challenge (a
   * token good for five minutes and the factor routes only), spent by a right code or a
   * passkey's assertion for the session itself.
   */
  function askForFactor({ user, challenge }) {
    notify(null);
    const token = challenge.token;
    /** Sends what completes the challenge; an expired (or spent) one leads back to sign-in. */
    async function complete(send) {
      let answer;
      try {
        answer = await send();
      } catch (error) {
        if (error.status !== 401) throw error;
        // The challenge expired (or was spent): only a new sign-in helps.
        renderSignIn(main, { onSignedIn, notify });
        notify(error);
        return;
      }
      await onSignedIn({ kind: "session", token: answer.session.token });
    }
    const form = factorCodeForm({
      factors: challenge.factors,
      allowRecovery: true,
      submitLabel: "Verify and sign in",
      check: ({ factorId, code, recovery }) =>
        complete(() =>
          recovery
            ? api("POST", "/auth/factors/recovery", { body: { code }, token })
            : api("POST", `/auth/factors/${factorId}/verify`, { body: { code }, token })
        ),
      passkey: () =>
        complete(async () => {
          const options = await api("POST", "/auth/factors/passkey/assertion-options", {
            body: {},
            token,
          });
          const { factorId, assertion } = await usePasskey(options);
          return await api("POST", `/auth/factors/${factorId}/verify`, {
            body: { assertion },
            token,
          });
        }),
      cancel: () => renderSignIn(main, { onSignedIn, notify }),
      cancelLabel: "Back",
    });
    const types = new Set(challenge.factors.map((factor) => factor.type));
    const ways = [
      types.has("totp") ? "enter the code your authenticator app shows for this account" : null,
      types.has("passkey") && passkeysSupported() ? "use a passkey" : null,
    ].filter(Boolean);
    const how = ways.length > 0
      ? `${capitalised(ways.join(", or "))}, or use one of your recovery codes.`
      : "This browser cannot use passkeys: use one of your recovery codes.";
    show(
      main,
      h("h1", {}, "Second factor"),
      h(
        "section",
        { class: "card narrow", "aria-labelledby": "factor-title" },
        h("h2", { id: "factor-title" }, `Signing in as ${user.email}`),
        h("p", {}, how),
        form,
        h(
          "p",
          { class: "muted" },
          "This step must be finished before ",
          h("time", { datetime: challenge.expiresAt }, timeOf(challenge.expiresAt)),
          " UTC.",
        ),
      ),
    );
    form.focusCode();
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

function capitalised(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function timeOf(iso) {
  return new Date(iso).toLocaleTimeString("en-GB", { timeStyle: "short", timeZone: "UTC" });
}
