import { api } from "../api.js";
import { h, show, when } from "../dom.js";

const allPermissions = [
  ["users:read", "find people and read their accounts"],
  ["users:write", "create, edit, ban and delete people; set passwords"],
  ["roles:read", "read the roles and the permission catalogue"],
  ["roles:write", "change a person's role; define roles and the team's permissions"],
  ["sessions:revoke", "sign people out everywhere"],
  ["keys:read", "list API keys"],
  ["keys:write", "create and rotate API keys for people"],
  ["keys:revoke", "revoke API keys"],
  ["audit:read", "read and export the audit log"],
  ["orgs:read", "list organizations and their members"],
  ["orgs:write", "suspend and unsuspend organizations"],
];

/** Who you are, what you may do, and what the deployment wants an operator to fix. */
export async function renderOverview(main, { me, can }) {
  const [version, warnings] = await Promise.all([
    api("GET", "/version"),
    can("users:read")
      ? api("GET", "/admin/warnings").then((answer) => answer.warnings)
      : api("GET", "/version/health").then((answer) => answer.warnings ?? []),
  ]);
  show(
    main,
    h("h1", {}, "Overview"),
    h(
      "section",
      { class: "card", "aria-labelledby": "you" },
      h("h2", { id: "you" }, "You"),
      h(
        "dl",
        {},
        h("dt", {}, "Signed in as"),
        h("dd", {}, `${me.user.name} <${me.user.email}>`),
        h("dt", {}, "Role"),
        h("dd", { "data-testid": "role" }, me.user.role),
        h("dt", {}, "With"),
        h(
          "dd",
          {},
          me.apiKey ? `an API key (scopes: ${me.apiKey.scopes.join(", ") || "none"})` : "a session",
        ),
        me.session ? [h("dt", {}, "Session ends"), h("dd", {}, when(me.session.expiresAt))] : null,
      ),
      h("h3", {}, "What you may do here"),
      h(
        "ul",
        { class: "permissions" },
        allPermissions.map(([permission, text]) =>
          h(
            "li",
            { class: can(permission) ? "granted" : "denied" },
            h("code", {}, permission),
            ` ${can(permission) ? "yes" : "no"}: ${text}`,
          )
        ),
      ),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "deployment" },
      h("h2", { id: "deployment" }, "Deployment"),
      h("p", {}, `Latchkey ${version.version}, environment ${version.environment}.`),
      warnings.length === 0 ? h("p", { class: "granted" }, "No warnings.") : h(
        "ul",
        { class: "warnings", "data-testid": "warnings" },
        warnings.map((warning) =>
          h(
            "li",
            { "data-code": warning.code },
            h("strong", {}, warning.code),
            ` ${warning.message}`,
          )
        ),
      ),
    ),
  );
}
