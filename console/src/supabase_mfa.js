import { credential, supabaseAuth as supabaseAuthCall } from "./api.js";
import { field, h, show } from "./dom.js";
import { stepUpDialog } from "./step_up_dialog.js";
import { factorCodeForm, totpEnrolmentCard } from "./views/factor_code.js";

/**
 * LATCHKEY_IDENTITY=supabase: second factors are Supabase Auth's. A role that needs one (403
 * `mfa_required`), or an account that has one while its token is aal1, raises the session to
 * aal2 the way supabase-js's `auth.mfa` does it over HTTP: the factors from `GET /auth/v1/user`,
 * `POST /auth/v1/factors` to enrol TOTP (a QR code and its secret), then
 * `POST /auth/v1/factors/{id}/challenge` and `.../verify` with the code, which answers with an
 * aal2 access token of the same session; that token becomes the console's credential. A step-up
 * (403 `step_up_required`) is a challenge and a verification again: Supabase Auth stamps the
 * `totp` entry of the token's `amr` anew, and that time is what Latchkey reads.
 */

/** A call to Supabase Auth with the console's access token. */
function supabaseAuth(method, path, body) {
  return supabaseAuthCall(method, path, { body, token: credential.get()?.token });
}

/** The account's verified TOTP factors, in the shape factorCodeForm takes. */
function verifiedTotp(user) {
  return (user.factors ?? [])
    .filter((factor) => factor.status === "verified" && factor.factor_type === "totp")
    .map((factor) => ({
      id: factor.id,
      type: "totp",
      name: factor.friendly_name || "Authenticator app",
    }));
}

/**
 * A challenge and its verification: the aal2 access token Supabase Auth answers with is the
 * console's credential from now on.
 */
async function verifyCode(factorId, code) {
  const challenge = await supabaseAuth("POST", `/factors/${factorId}/challenge`, {});
  const session = await supabaseAuth("POST", `/factors/${factorId}/verify`, {
    challenge_id: challenge.id,
    code,
  });
  credential.set({ kind: "supabase", token: session.access_token });
}

/** The `aal` of the console's access token (read to decide what to ask, never trusted). */
function tokenAal() {
  try {
    const payload = credential.get()?.token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload)).aal ?? null;
  } catch {
    return null;
  }
}

/**
 * Whether the console must raise the Supabase Auth session before going on: Latchkey says the
 * role needs a factor (`mfaRequired`), or the token is aal1 and the account has a verified
 * factor (Supabase's nextLevel aal2), which is asked for at sign-in as Latchkey's own are.
 */
export async function supabaseFactorWanted(session) {
  if (session?.mfaRequired) return true;
  if (tokenAal() !== "aal1") return false;
  return verifiedTotp(await supabaseAuth("GET", "/user")).length > 0;
}

/**
 * The page shown until the session is aal2: the code of a verified factor, or enrolling an
 * authenticator app. `onRaised(message)` runs once the credential is the aal2 token. The
 * header's Sign out is the way to leave instead.
 */
export async function renderSupabaseFactor(main, { notify, onRaised }) {
  const user = await supabaseAuth("GET", "/user");
  const factors = verifiedTotp(user);
  if (factors.length > 0) {
    const form = factorCodeForm({
      factors,
      submitLabel: "Verify and continue",
      async check({ factorId, code }) {
        await verifyCode(factorId, code);
        onRaised("Second factor verified.");
      },
    });
    show(
      main,
      h("h1", {}, "Second factor"),
      h(
        "section",
        { class: "card narrow", "aria-labelledby": "factor-title" },
        h("h2", { id: "factor-title" }, `Signed in as ${user.email}`),
        h(
          "p",
          {},
          "Enter the code your authenticator app shows for this Supabase Auth account.",
        ),
        form,
      ),
    );
    form.focusCode();
    return;
  }
  const otherFactors = (user.factors ?? []).some((factor) => factor.status === "verified");
  if (otherFactors) {
    show(
      main,
      h("h1", {}, "Second factor"),
      h(
        "p",
        { class: "notice error" },
        "This account's second factors are not authenticator apps, which is all this console " +
          "can verify. Raise the session with your own app, or add an authenticator app there.",
      ),
    );
    return;
  }
  show(main, enrolmentStart(user, { notify, onRaised, main }));
}

/** Asking for a name, then enrolling (Supabase Auth holds the factor; we only show it). */
function enrolmentStart(user, context) {
  const name = h("input", { name: "name", maxlength: 100, placeholder: "Authenticator app" });
  return h(
    "div",
    {},
    h("h1", {}, "Second factor"),
    h(
      "p",
      { class: "notice error", "data-testid": "mfa-required" },
      "Your role needs a second factor. Add an authenticator app to your Supabase Auth " +
        "account to go on.",
    ),
    h(
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
            const friendlyName = name.value.trim() || "Authenticator app";
            try {
              // An abandoned enrolment of the same name would be refused as a conflict; an
              // unverified factor goes without a second factor.
              for (const stale of user.factors ?? []) {
                if (stale.status === "unverified" && stale.friendly_name === friendlyName) {
                  await supabaseAuth("DELETE", `/factors/${stale.id}`);
                }
              }
              const enrolment = await supabaseAuth("POST", "/factors", {
                factor_type: "totp",
                friendly_name: friendlyName,
              });
              context.notify(null);
              show(context.main, enrolmentPanel(enrolment, context));
              context.main.querySelector("input[name=code]")?.focus();
            } catch (error) {
              context.notify(error);
            }
          },
        },
        field("Name", name),
        h("button", { type: "submit" }, "Add authenticator app"),
      ),
    ),
  );
}

/**
 * The QR code and secret of a new factor, and its first code. Supabase Auth sends the QR code
 * as bare SVG: it goes in as a data: URL of an image (the policy allows `img-src data:`),
 * never parsed into the page.
 */
function enrolmentPanel(enrolment, { onRaised, main, notify }) {
  const name = enrolment.friendly_name || "Authenticator app";
  return h(
    "div",
    {},
    h("h1", {}, "Second factor"),
    totpEnrolmentCard({
      name,
      qrSvg: enrolment.totp.qr_code,
      secret: enrolment.totp.secret,
      async confirm(code) {
        await verifyCode(enrolment.id, code);
        onRaised(`"${name}" is confirmed.`);
      },
      async cancel() {
        // Not verified, so it goes with an aal1 session; an abandoned one leaves nothing.
        await supabaseAuth("DELETE", `/factors/${enrolment.id}`).catch(() => {});
        await renderSupabaseFactor(main, { notify, onRaised });
      },
    }),
  );
}

/**
 * Step-up with a Supabase Auth session: a modal dialog asks for a code of one of the account's
 * authenticator apps, verified with Supabase Auth (a new challenge each time). Resolves true
 * once the credential is the new token, false when cancelled or there is no TOTP factor.
 */
export async function supabaseStepUp() {
  const user = await supabaseAuth("GET", "/user").catch(() => null);
  const factors = user ? verifiedTotp(user) : [];
  if (factors.length === 0) return false;
  return await stepUpDialog(
    "Enter the code your authenticator app shows now; Supabase Auth checks it.",
    (finish) =>
      factorCodeForm({
        factors,
        submitLabel: "Verify and continue",
        async check({ factorId, code }) {
          await verifyCode(factorId, code);
          finish(true);
        },
        cancel: () => finish(false),
      }),
  );
}
