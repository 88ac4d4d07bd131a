import { field, h } from "../dom.js";

/**
 * Asking for a second factor's code, at sign-in and at step-up: a code from an authenticator
 * app (one of the TOTP factors, chosen when there are several) or, where `allowRecovery`, one
 * of the recovery codes. `check({factorId, code, recovery})` sends it; what it throws is shown
 * in the form, which stays up with the field cleared for the next try.
 */
export function factorCodeForm(
  { factors, allowRecovery = false, submitLabel = "Verify", check, cancel, cancelLabel = "Cancel" },
) {
  const totp = factors.filter((factor) => factor.type === "totp");
  let recovery = totp.length === 0;
  const problem = h("p", { class: "form-problem", role: "alert" });
  const submit = h("button", { type: "submit" }, submitLabel);
  const fields = h("div", {});
  let input;

  function draw() {
    input = recovery
      ? h("input", {
        name: "code",
        autocomplete: "off",
        autocapitalize: "none",
        spellcheck: "false",
        required: true,
        maxlength: 64,
      })
      : h("input", {
        name: "code",
        autocomplete: "one-time-code",
        inputmode: "numeric",
        required: true,
        maxlength: 16,
        size: 10,
      });
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

  draw();
  const form = h(
    "form",
    {
      class: "factor-code",
      async onsubmit(event) {
        event.preventDefault();
        if (submit.disabled) return;
        const data = new FormData(form);
        const code = String(data.get("code") ?? "").trim();
        const factorId = recovery ? null : String(data.get("factorId") ?? totp[0]?.id ?? "");
        submit.disabled = true;
        submit.setAttribute("aria-busy", "true");
        problem.textContent = "";
        try {
          await check({ factorId, code, recovery });
        } catch (error) {
          problem.textContent = codeProblem(error);
          input.value = "";
          input.focus();
        } finally {
          submit.disabled = false;
          submit.removeAttribute("aria-busy");
        }
      },
    },
    fields,
    problem,
    h(
      "div",
      { class: "actions" },
      submit,
      cancel
        ? h("button", { type: "button", class: "secondary", onclick: cancel }, cancelLabel)
        : null,
      toggle,
    ),
  );
  form.focusCode = () => input.focus();
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
