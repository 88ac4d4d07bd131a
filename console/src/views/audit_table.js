import { h, table, when } from "../dom.js";

/** Audit events, each with its full JSON a click away. */
export function auditTable(events, caption = "Audit events, newest first") {
  return table(
    caption,
    [
      ["When", (event) => when(event.createdAt)],
      ["Action", (event) => h("code", {}, event.action)],
      ["Actor", (event) =>
        event.actorUserId
          ? h(
            "a",
            { href: `#/users/${event.actorUserId}` },
            `${event.actorKind} ${event.actorUserId.slice(0, 8)}…`,
          )
          : event.actorKind],
      [
        "Target",
        (event) =>
          event.targetKind === "user" && event.targetId
            ? h("a", { href: `#/users/${event.targetId}` }, `user ${event.targetId.slice(0, 8)}…`)
            : event.targetId
            ? `${event.targetKind} ${event.targetId.slice(0, 8)}…`
            : "—",
      ],
      ["Detail", (event) =>
        h(
          "details",
          {},
          h("summary", {}, "JSON"),
          h(
            "pre",
            { class: "json", tabindex: 0, "aria-label": `Event ${event.id} as JSON` },
            JSON.stringify(event, null, 2),
          ),
        )],
    ],
    events,
    "No events.",
  );
}
