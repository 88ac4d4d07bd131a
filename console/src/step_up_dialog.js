import { h } from "./dom.js";

/**
 * The modal "Confirm it is you" dialog both kinds of step-up show (a Latchkey session's factors,
 * or Supabase Auth's): `makeForm(finish)` builds the factor form, which calls `finish(true)` once
 * a factor is verified or `finish(false)` on Cancel; Escape is Cancel. Resolves with that answer.
 */
export function stepUpDialog(explanation, makeForm) {
  return new Promise((resolve) => {
    const finish = (verified) => {
      dialog.close();
      dialog.remove();
      resolve(verified);
    };
    const form = makeForm(finish);
    const dialog = h(
      "dialog",
      { class: "step-up", "aria-labelledby": "step-up-title", "data-testid": "step-up" },
      h("h2", { id: "step-up-title" }, "Confirm it is you"),
      h(
        "p",
        {},
        `This action needs a second factor verified in the last few minutes. ${explanation}`,
      ),
      form,
    );
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    form.focusCode();
  });
}
