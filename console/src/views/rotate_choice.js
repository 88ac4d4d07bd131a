import { h } from "../dom.js";

/**
 * A rotation's two controls: how long the old secret keeps working (`overlaps`, `[seconds,
 * label]`, the first the default) and the button that rotates. `rotate(overlapSeconds)` does
 * it; the button stays disabled while it runs and again on success, and a failure is notified.
 */
export function rotateChoice({ overlaps, label, selectLabel, buttonLabel, rotate, notify }) {
  const overlap = h(
    "select",
    { "aria-label": selectLabel },
    overlaps.map(([value, text]) => h("option", { value }, text)),
  );
  const confirmButton = h("button", {
    type: "button",
    "aria-label": buttonLabel,
    async onclick() {
      confirmButton.disabled = true;
      try {
        await rotate(Number(overlap.value));
      } catch (error) {
        confirmButton.disabled = false;
        notify(error);
      }
    },
  }, "Rotate now");
  return h("span", { class: "rotate-choice" }, h("label", {}, label, overlap), confirmButton);
}
