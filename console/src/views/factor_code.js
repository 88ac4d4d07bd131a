import { field, h } from "../dom.js";
import { passkeyProblem, passkeysSupported } from "../passkeys.js";

/**
 * Asking for a second factor, at sign-in and at step-up: a code from an authenticator app (one
 * of the TOTP factors, chosen when there are several), where `allowRecovery` one of the
 * recovery codes, and, when the factors hold a passkey and `passkey` is given, "Use a passkey".
 * `check({factorId, code, recovery})` sends a code and `passkey()` runs the passkey's ceremony;
 * what either throws is shown in the form, which stays up (a code field cleared) for the next
 * try.
 */
export function factorCodeForm(
  {
    factors,
    allowRecovery = false,
    submitLabel = "Verify",
    check,
    passkey = null,
    cancel,
    cancelLabel = "Cancel",
  },
) {
  const totp = factors.filter((factor) => factor.type === "totp");
  const withPasskey = passkey && passkeysSupported() &&
    factors.some((factor) => factor.type === "passkey");
  // Nothing to type: the passkey is the only way (a step-up with no recovery code left).
  const typed = totp.length > 0 || allowRecovery;
  let recovery = totp.length === 0;
  const problem = h("p", { class: "form-problem", role: "alert" });
  const submit = typed ? h("button", { type: "submit" }, submitLabel) : null;
  const fields = h("div", {});
  let input = null;

  function draw() {
    if (!typed) return;
    input = recovery
      ? h("input", {
        name: "code",
        autocomplete: "off",
        autocapitalize: "none",
        spellcheck: "false",
        required: true,
        maxlength: 64,
      })
      : totpCodeInput();
    fields.replaceChildren(...[
      !recovery && totp.length > 1
        ? field(
          "Authenticator",
          h(
            "select",
            { name: "factorId" },
            totp.map((factor) => h("option", { value: factor.id }, factor.name)),
          ),
        )
        : null,
      recovery
        ? field("Recovery code", input, "One of the ten codes you saved; each works once.")
        : field("Code from your authenticator app", input, "Six digits; it changes every 30 s."),
    ].filter(Boolean));
  }

  const toggle = allowRecovery && totp.length > 0
    ? h("button", {
      type: "button",
      class: "link",
      onclick() {
        recovery = !recovery;
        toggle.textContent = recovery ? "Use the authenticator app" : "Use a recovery code";
        problem.textContent = "";
        draw();
        input.focus();
      },
    }, "Use a recovery code")
    : null;

  const passkeyButton = withPasskey
    ? h("button", {
      type: "button",
      class: totp.length > 0 ? "secondary" : null,
      async onclick() {
        await attempt(() => passkey(), (error) => passkeyProblem(error) ?? codeProblem(error));
      },
    }, "Use a passkey")
    : null;

  /** One try at a time: the buttons wait, and a refusal is said in the form. */
  async function attempt(work, describe) {
    if (busy) return;
    busy = true;
    for (const button of [submit, passkeyButton]) {
      if (!button) continue;
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
    }
    problem.textContent = "";
    try {
      await work();
    } catch (error) {
      problem.textContent = describe(error);
      if (input) {
        input.value = "";
        input.focus();
      }
    } finally {
      busy = false;
      for (const button of [submit, passkeyButton]) {
        if (!button) continue;
        button.disabled = false;
        button.removeAttribute("aria-busy");
      }
    }
  }
  let busy = false;

  draw();
  const form = h(
    "form",
    {
      class: "factor-code",
      async onsubmit(event) {
        event.preventDefault();
        if (!typed) return;
        const data = new FormData(form);
        const code = String(data.get("code") ?? "").trim();
        const factorId = recovery ? null : String(data.get("factorId") ?? totp[0]?.id ?? "");
        await attempt(() => check({ factorId, code, recovery }), codeProblem);
      },
    },
    fields,
    problem,
    h(
      "div",
      { class: "actions" },
      submit,
      passkeyButton,
      cancel
        ? h("button", { type: "button", class: "secondary", onclick: cancel }, cancelLabel)
        : null,
      toggle,
    ),
  );
  // The app's code where there is an app; else the passkey, the recovery code being the spare.
  form.focusCode = () => (totp.length > 0 ? input : passkeyButton ?? input)?.focus();
  return form;
}

/** What went wrong with a code, for the person typing it. */
export function codeProblem(error) {
  if (error?.status === 429) {
    return `Too many failed attempts. Try again ${waitText(error.retryAfter)}.`;
  }
  if (error?.code === "invalid_factor_code" || error?.code === "validation_failed") {
    const detail = error.details?.find((d) => d.path === "code")?.message;
    return `Wrong code: ${detail ?? error.message}`;
  }
  if (error?.code === "invalid_passkey") {
    return `Passkey refused: ${error.details?.[0]?.message ?? error.message}`;
  }
  const requestId = error?.requestId ? ` (request id ${error.requestId})` : "";
  return `${error?.message ?? error}${requestId}`;
}

function waitText(seconds) {
  if (!seconds) return "later";
  if (seconds < 90) return `in ${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  const at = new Date(Date.now() + seconds * 1000).toLocaleTimeString("en-GB", {
    timeStyle: "short",
  });
  return `in ${minutes} minutes (at ${at})`;
}

/**
 * A new authenticator app's card: its QR code (SVG as a `data:` image, which the policy's
 * `img-src` allows; never parsed into the page) and secret, shown once, and the first code that
 * confirms it. `confirm(code)` throws on a wrong code (shown, the field cleared); `cancel()` drops
 * the unconfirmed factor.
 */
export function totpEnrolmentCard({ name, qrSvg, secret, confirm, cancel }) {
  const problem = h("p", { class: "form-problem", role: "alert" });
  const code = totpCodeInput();
  return h(
    "section",
    { class: "card secret", "aria-labelledby": "scan" },
    h("h2", { id: "scan" }, `Add "${name}"`),
    h("p", {}, "Scan this code with your authenticator app. It is shown only now."),
    h("img", {
      class: "qr",
      src: `data:image/svg+xml,${encodeURIComponent(qrSvg)}`,
      alt: `QR code of the authenticator app's secret for "${name}"`,
      width: 200,
      height: 200,
    }),
    h(
      "p",
      {},
      "Cannot scan? Type this secret into the app (time-based, 6 digits, 30 seconds): ",
      h("code", { class: "secret-value", "data-testid": "totp-secret" }, secret),
    ),
    h(
      "form",
      {
        class: "inline",
        async onsubmit(event) {
          event.preventDefault();
          problem.textContent = "";
          try {
            await confirm(code.value.trim());
          } catch (error) {
            problem.textContent = codeProblem(error);
            code.value = "";
            code.focus();
          }
        },
      },
      field("First code from the app", code),
      h("button", { type: "submit" }, "Confirm"),
      h("button", { type: "button", class: "secondary", onclick: cancel }, "Cancel"),
    ),
    problem,
  );
}

/** The field for an authenticator app's code: the browser may fill it (`one-time-code`). */
function totpCodeInput() {
  return h("input", {
    name: "code",
    autocomplete: "one-time-code",
    inputmode: "numeric",
    required: true,
    maxlength: 16,
    size: 10,
  });
}
