import { h, table, when } from "../dom.js";

const actorKinds = {
  admin_key: "admin key",
  anonymous: "anonymous",
  system: "system",
};

/**
 * Who acted, as people know them: the user's email (their name for a service account's
 * reserved address would say no more), the ids a click or a hover away.
 */
function actor(event) {
  const ids = [
    event.actorUserId ? `user ${event.actorUserId}` : null,
    event.actorCredentialId ? `${event.actorKind} ${event.actorCredentialId}` : null,
  ].filter(Boolean).join(", ");
  const label = actorKinds[event.actorKind] ?? event.actorKind;
  if (!event.actorUserId) return h("span", { title: ids || null }, label);
  return h(
    "a",
    { href: `#/users/${event.actorUserId}`, title: ids },
    event.actorEmail ?? `user ${event.actorUserId.slice(0, 8)}…`,
    event.actorKind === "api_key" ? " (API key)" : null,
  );
}

function target(event) {
  if (!event.targetId) return "—";
  const title = `${event.targetKind} ${event.targetId}`;
  if (event.targetKind === "user") {
    return h(
      "a",
      { href: `#/users/${event.targetId}`, title },
      event.targetEmail ?? `user ${event.targetId.slice(0, 8)}…`,
    );
  }
  return h("span", { title }, `${event.targetKind} ${event.targetId.slice(0, 8)}…`);
}

/** Audit events, each with its full JSON a click away. */
export function auditTable(events, caption = "Audit events, newest first") {
  return table(
    caption,
    [
      ["When", (event) => when(event.createdAt)],
      ["Action", (event) => h("code", {}, event.action)],
      ["Actor", actor],
      ["Target", target],
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
