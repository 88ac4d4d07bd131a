import { api, credential } from "./api.js";
import { stepUpDialog } from "./step_up_dialog.js";
import { passkeysSupported, usePasskey } from "./passkeys.js";
import { supabaseStepUp } from "./supabase_mfa.js";
import { factorCodeForm } from "./views/factor_code.js";

/**
 * Step-up: a dangerous action answered 403 `step_up_required`, so a modal dialog asks for a
 * second factor and verifies it with the current session, which counts as a fresh one for the
 * next few minutes: a code of one of the person's authenticator apps, a passkey, or one of their
 * recovery codes (spent). Resolves true when one was taken (the caller sends the action again,
 * once), false when the person cancelled or has nothing the console can verify. Several refused
 * calls at once share one dialog.
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
  const { factors, recoveryCodesLeft } = await api("GET", "/auth/factors")
    .catch(() => ({ factors: [], recoveryCodesLeft: 0 }));
  const usable = factors.filter((factor) =>
    factor.confirmed &&
    (factor.type === "totp" || (factor.type === "passkey" && passkeysSupported()))
  );
  const allowRecovery = recoveryCodesLeft > 0;
  if (usable.length === 0 && !allowRecovery) return false;
  const ways = [
    usable.some((factor) => factor.type === "totp")
      ? "the code your authenticator app shows"
      : null,
    usable.some((factor) => factor.type === "passkey") ? "a passkey" : null,
    allowRecovery ? "one of your recovery codes" : null,
  ].filter(Boolean);
  const explanation = `Use ${ways.slice(0, -1).join(", ")}${ways.length > 1 ? " or " : ""}` +
    `${ways.at(-1)}.`;
  return await stepUpDialog(explanation, (finish) => {
    const raised = () => {
      dispatchEvent(new Event(sessionRaised));
      finish(true);
    };
    return factorCodeForm({
      factors: usable,
      allowRecovery,
      submitLabel: "Verify and continue",
      async check({ factorId, code, recovery }) {
        if (recovery) await api("POST", "/auth/factors/recovery", { body: { code } });
        else await api("POST", `/auth/factors/${factorId}/verify`, { body: { code } });
        raised();
      },
      async passkey() {
        const options = await api("POST", "/auth/factors/passkey/assertion-options", {
          body: {},
        });
        const { factorId, assertion } = await usePasskey(options);
        await api("POST", `/auth/factors/${factorId}/verify`, { body: { assertion } });
        raised();
      },
      cancel: () => finish(false),
    });
  });
}
