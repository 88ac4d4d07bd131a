import { api, credential } from "./api.js";
import { h } from "./dom.js";
import { supabaseStepUp } from "./supabase_mfa.js";
import { factorCodeForm } from "./views/factor_code.js";

/**
 * Step-up: a dangerous action answered 403 `step_up_required`, so a modal dialog asks for a
 * code of one of the person's authenticator apps and verifies it with the current session,
 * which counts as a fresh second factor for the next few minutes. Resolves true when a code
 * was taken (the caller sends the action again, once), false when the person cancelled or has
 * no factor the console can verify. Several refused calls at once share one dialog.
 */
let pending = null;

/** The event sent on `window` when a verified factor raised the session to aal2. */
export const sessionRaised = "latchkey:session-raised";

export function askForStepUp() {
  pending ??= stepUp().finally(() => {
    pending = null;
  });
  return pending;
}

async function stepUp() {
  // Supabase Auth's factors are verified there, and the credential becomes its new token.
  if (credential.get()?.kind === "supabase") {
    const verified = await supabaseStepUp();
    if (verified) dispatchEvent(new Event(sessionRaised));
    return verified;
  }
  // Only a Latchkey session verifies factors here; Supabase Auth and API keys do it elsewhere.
  if (credential.get()?.kind !== "session") return false;
  // Without the list, the action's own refusal is the answer to show.
  const { factors } = await api("GET", "/auth/factors").catch(() => ({ factors: [] }));
  const usable = factors.filter((factor) => factor.confirmed && factor.type === "totp");
  if (usable.length === 0) return false;
  return await new Promise((resolve) => {
    const finish = (verified) => {
      dialog.close();
      dialog.remove();
      resolve(verified);
    };
    const form = factorCodeForm({
      factors: usable,
      submitLabel: "Verify and continue",
      async check({ factorId, code }) {
        await api("POST", `/auth/factors/${factorId}/verify`, { body: { code } });
        dispatchEvent(new Event(sessionRaised));
        finish(true);
      },
      cancel: () => finish(false),
    });
    const dialog = h(
      "dialog",
      { class: "step-up", "aria-labelledby": "step-up-title", "data-testid": "step-up" },
      h("h2", { id: "step-up-title" }, "Confirm it is you"),
      h(
        "p",
        {},
        "This action needs a second factor verified in the last few minutes. Enter the code " +
          "your authenticator app shows now.",
      ),
      form,
    );
    // Escape closes the dialog: the same as Cancel.
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    form.focusCode();
  });
}
