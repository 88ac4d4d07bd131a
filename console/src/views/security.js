import { api } from "../api.js";
import { field, formValues, h, show, table, when } from "../dom.js";
import { createPasskey, passkeyProblem, passkeysSupported } from "../passkeys.js";
import { sessionRaised } from "../step_up.js";
import { codeProblem, totpEnrolmentCard } from "./factor_code.js";
import { factorKind } from "./second_factors.js";

/**
 * The signed-in person's second factors: the list (rename, remove), adding an authenticator
 * app (its QR code and secret shown once, then a first code confirms it) or a passkey (the
 * browser makes it; its registration confirms it), and the recovery codes the first factor
 * gives, shown once with a step to save them.
 *
 * `context.onEnrolled` runs once a factor is confirmed and its codes are saved (main.js: a
 * role that needs a factor may go on).
 */
export async function renderSecurity(main, context) {
  const { notify } = context;
  const { factors, recoveryCodesLeft } = await api("GET", "/auth/factors");
  // What is shown once (an enrolment's secret, recovery codes) is gone at the next drawing.
  const refresh = (shownOnce = {}) =>
    renderSecurity(main, { ...context, enrolment: null, recoveryCodes: null, ...shownOnce });
  const confirmed = factors.filter((factor) => factor.confirmed);

  if (context.recoveryCodes) {
    return show(
      main,
      h("h1", {}, "Security"),
      recoveryCodesPanel(context.recoveryCodes, () => {
        if (context.onEnrolled) context.onEnrolled();
        else refresh();
      }),
    );
  }

  show(
    main,
    h("h1", {}, "Security"),
    context.mfaRequired
      ? h(
        "p",
        { class: "notice error", "data-testid": "mfa-required" },
        "Your role needs a second factor. Add an authenticator app or a passkey below to go on.",
      )
      : null,
    h(
      "section",
      { class: "card", "aria-labelledby": "factors" },
      h("h2", { id: "factors" }, "Second factors"),
      table(
        "Your second factors",
        [
          ["Name", (factor) => factor.name],
          ["Kind", (factor) => factorKind(factor.type)],
          [
            "State",
            (factor) =>
              factor.confirmed ? "confirmed" : h("span", { class: "bad" }, "not confirmed"),
          ],
          ["Added", (factor) => when(factor.createdAt)],
          ["Last used", (factor) => when(factor.lastUsedAt)],
          [
            "",
            (factor) =>
              factorActions(factor, {
                notify,
                refresh,
                lastConfirmed: factor.confirmed && confirmed.length === 1,
              }),
          ],
        ],
        factors,
        "No second factor yet: a password alone protects this account.",
      ),
      confirmed.length > 0
        ? h(
          "p",
          { "data-testid": "recovery-left" },
          `Recovery codes left: ${recoveryCodesLeft} of 10.`,
          recoveryCodesLeft <= 3
            ? " Few are left: add a new authenticator app or passkey after removing all of " +
              "them to get a new set."
            : null,
        )
        : null,
    ),
    context.enrolment ? enrolmentPanel(context.enrolment, { notify, refresh }) : h(
      "section",
      { class: "card", "aria-labelledby": "add-totp" },
      h("h2", { id: "add-totp" }, "Add an authenticator app"),
      h(
        "p",
        {},
        "Any TOTP app works (for example a password manager, Google Authenticator, Aegis). " +
          "You will scan a QR code, then type the first code it shows.",
      ),
      h(
        "form",
        {
          class: "inline",
          async onsubmit(event) {
            event.preventDefault();
            const { name } = formValues(event.currentTarget);
            try {
              const enrolment = await api("POST", "/auth/factors/totp", {
                body: name ? { name } : {},
              });
              await refresh({ enrolment });
              notify(null);
            } catch (error) {
              notify(error);
            }
          },
        },
        field(
          "Name",
          h("input", { name: "name", maxlength: 100, placeholder: "Authenticator app" }),
        ),
        h("button", { type: "submit" }, "Add authenticator app"),
      ),
    ),
    context.enrolment ? null : passkeySection({ notify, refresh, onEnrolled: context.onEnrolled }),
  );
}

/**
 * Adding a passkey: the API's creation options go to `navigator.credentials.create`, and what
 * the browser answers to `POST /auth/factors/passkey`, which confirms it at once (and gives the
 * recovery codes with the account's first factor). Where the browser cannot, it says so.
 */
function passkeySection({ notify, refresh, onEnrolled }) {
  const heading = h("h2", { id: "add-passkey" }, "Add a passkey");
  if (!passkeysSupported()) {
    return h(
      "section",
      { class: "card", "aria-labelledby": "add-passkey" },
      heading,
      h("p", { class: "muted" }, "This browser cannot make passkeys (or this page is not https)."),
    );
  }
  const problem = h("p", { class: "form-problem", role: "alert" });
  const submit = h("button", { type: "submit" }, "Add passkey");
  return h(
    "section",
    { class: "card", "aria-labelledby": "add-passkey" },
    heading,
    h(
      "p",
      {},
      "A passkey lives in this device (fingerprint, face, PIN), a password manager or a " +
        "security key. Your browser will ask which to use.",
    ),
    h(
      "form",
      {
        class: "inline",
        async onsubmit(event) {
          event.preventDefault();
          if (submit.disabled) return;
          const { name } = formValues(event.currentTarget);
          problem.textContent = "";
          submit.disabled = true;
          submit.setAttribute("aria-busy", "true");
          try {
            const options = await api("POST", "/auth/factors/passkey/options", {
              body: name ? { name } : {},
            });
            const passkey = await api("POST", "/auth/factors/passkey", {
              body: await createPasskey(options),
            });
            notify(`"${passkey.name}" is added.`);
            dispatchEvent(new Event(sessionRaised));
            if (passkey.recoveryCodes) await refresh({ recoveryCodes: passkey.recoveryCodes });
            else if (onEnrolled) onEnrolled();
            else await refresh();
          } catch (error) {
            const said = passkeyProblem(error);
            if (said) problem.textContent = said;
            else if (error?.code === "invalid_passkey") problem.textContent = codeProblem(error);
            else notify(error);
          } finally {
            submit.disabled = false;
            submit.removeAttribute("aria-busy");
          }
        },
      },
      field(
        "Passkey name",
        h("input", { name: "name", maxlength: 100, placeholder: "Passkey" }),
      ),
      submit,
    ),
    problem,
  );
}

/**
 * The QR code as an image: the SVG the API drew goes in as a data: URL (the policy allows
 * `img-src data:`), never parsed into the page, so no markup or style reaches the document.
 */
function enrolmentPanel(enrolment, { notify, refresh, onEnrolled }) {
  return totpEnrolmentCard({
    name: enrolment.name,
    qrSvg: enrolment.qrSvg,
    secret: enrolment.secret,
    async confirm(code) {
      const answer = await api("POST", `/auth/factors/${enrolment.id}/verify`, {
        body: { code },
      });
      notify(`"${enrolment.name}" is confirmed.`);
      dispatchEvent(new Event(sessionRaised));
      if (answer.recoveryCodes) await refresh({ recoveryCodes: answer.recoveryCodes });
      else if (onEnrolled) onEnrolled();
      else await refresh();
    },
    async cancel() {
      // Not confirmed, so it goes with no code; an abandoned enrolment leaves nothing.
      await api("DELETE", `/auth/factors/${enrolment.id}`).catch(() => {});
      await refresh();
    },
  });
}

/**
 * The ten recovery codes, shown this once: copy or download them, then say they are saved.
 * Without a new set (the account still had unused codes), the panel says the old ones stand.
 */
function recoveryCodesPanel(codes, done) {
  const status = h("span", { role: "status", class: "muted" });
  const finish = h("button", { type: "button", disabled: true, onclick: done }, "Done");
  const text = `${codes.join("\n")}\n`;
  return h(
    "section",
    { class: "card secret", "aria-labelledby": "codes-title" },
    h("h2", { id: "codes-title" }, "Save your recovery codes"),
    h(
      "p",
      {},
      "If you lose your authenticator app or passkey, each of these codes signs you in once " +
        "(or confirms a dangerous action). They are " +
        "shown only now: keep them somewhere safe, away from your password.",
    ),
    h(
      "ol",
      { class: "recovery-codes", "data-testid": "recovery-codes" },
      codes.map((code) => h("li", {}, h("code", {}, code))),
    ),
    h(
      "div",
      { class: "actions centred" },
      h("button", {
        type: "button",
        async onclick() {
          try {
            await navigator.clipboard.writeText(text);
            status.textContent = "Copied.";
          } catch {
            status.textContent = "Copying was refused by the browser; select the codes instead.";
          }
        },
      }, "Copy codes"),
      h("button", {
        type: "button",
        onclick() {
          const link = h("a", {
            href: URL.createObjectURL(new Blob([text], { type: "text/plain" })),
            download: "latchkey-recovery-codes.txt",
          });
          link.click();
          setTimeout(() => URL.revokeObjectURL(link.href), 1000);
        },
      }, "Download codes"),
      status,
    ),
    h(
      "p",
      {},
      h(
        "label",
        { class: "check" },
        h("input", {
          type: "checkbox",
          onchange(event) {
            finish.disabled = !event.currentTarget.checked;
          },
        }),
        " I have saved these codes",
      ),
    ),
    finish,
  );
}

/**
 * Rename and remove. Removing a confirmed factor is asked once more here, and the API asks for
 * a second factor verified in the last few minutes (step-up, which the console's dialog
 * answers); the last one takes the recovery codes with it.
 */
function factorActions(factor, { notify, refresh, lastConfirmed }) {
  const cell = h("div", { class: "actions" });
  const buttons = () => [
    h("button", {
      type: "button",
      class: "secondary",
      "aria-label": `Rename ${factor.name}`,
      onclick: () => cell.replaceChildren(renameForm()),
    }, "Rename"),
    h("button", {
      type: "button",
      class: "danger",
      "aria-label": `Remove ${factor.name}`,
      async onclick() {
        if (factor.confirmed) return cell.replaceChildren(removeConfirmation());
        await remove();
      },
    }, "Remove"),
  ];
  const back = () =>
    h("button", {
      type: "button",
      class: "secondary",
      onclick: () => cell.replaceChildren(...buttons()),
    }, "Cancel");

  function renameForm() {
    return h(
      "form",
      {
        class: "inline",
        async onsubmit(event) {
          event.preventDefault();
          const { name } = formValues(event.currentTarget);
          try {
            await api("PATCH", `/auth/factors/${factor.id}`, { body: { name: name ?? "" } });
            await refresh();
            notify(`Renamed to "${name}".`);
          } catch (error) {
            notify(error);
          }
        },
      },
      field(
        `New name for ${factor.name}`,
        h("input", { name: "name", value: factor.name, maxlength: 100, required: true }),
      ),
      h("button", { type: "submit" }, "Save"),
      back(),
    );
  }

  async function remove() {
    try {
      await api("DELETE", `/auth/factors/${factor.id}`);
      await refresh();
      notify(`Removed "${factor.name}".`);
    } catch (error) {
      notify(error);
    }
  }

  function removeConfirmation() {
    const go = h("button", {
      type: "button",
      class: "danger",
      async onclick() {
        go.disabled = true;
        await remove();
        go.disabled = false;
      },
    }, "Remove");
    return h(
      "div",
      { class: "confirm", role: "group", "aria-label": `Remove ${factor.name}?` },
      h(
        "p",
        {},
        lastConfirmed
          ? `Remove "${factor.name}"? It is your last second factor: your recovery codes go ` +
            "with it, and a password alone will protect this account."
          : `Remove "${factor.name}"? Signing in will no longer take its codes.`,
      ),
      h("div", { class: "actions" }, go, back()),
    );
  }

  cell.append(...buttons());
  return cell;
}
