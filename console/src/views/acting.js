import { formValues } from "../dom.js";

/**
 * A button's or a form's handler: `work(values)` (a form's named values; none for a button),
 * then the page redrawn with `refresh` and `done` said; a failure is notified and the page stays
 * as it was, what was typed included.
 */
export function actingThen({ notify, refresh }) {
  return (work, done) => async (event) => {
    let values = {};
    if (event?.type === "submit") {
      event.preventDefault();
      values = formValues(event.currentTarget);
    }
    try {
      await work(values);
      await refresh();
      notify(done);
    } catch (error) {
      notify(error);
    }
  };
}
