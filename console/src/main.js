import { api, ApiError, credential, loadConfig, onRefusal } from "./api.js";
import { h, show } from "./dom.js";
import { askForStepUp, sessionRaised } from "./step_up.js";
import { renderSupabaseFactor, supabaseFactorWanted } from "./supabase_mfa.js";
import { renderAudit } from "./views/audit.js";
import { renderKeys } from "./views/keys.js";
import { renderOrg, renderOrgs, renderStaffOrg, renderStaffOrgs } from "./views/orgs.js";
import { renderOverview } from "./views/overview.js";
import { renderRoles } from "./views/roles.js";
import { renderSecurity } from "./views/security.js";
import { renderSignIn } from "./views/sign_in.js";
import { renderUser } from "./views/user.js";
import { renderUsers } from "./views/users.js";
import { renderWebhookDeliveries, renderWebhooks } from "./views/webhooks.js";

/**
 * The console: a hash router over a handful of pages. Who the caller is and what they may do
 * comes from GET /auth/session; pages hide or disable what the permissions do not cover, and
 * every action is still decided by the API.
 */

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const whoami = document.getElementById("whoami");
const notice = document.getElementById("notice");

let me = null;
/**
 * Set when GET /auth/session says `mfaRequired` or the API answered 403 `mfa_required`: this
 * session's role needs a second factor it has not verified, so only the Security page
 * (enrolment: an authenticator app or a passkey) is offered until one is.
 */
let mfaRequired = false;

const pages = [
  { path: "/", title: "Overview", render: renderOverview, needs: null },
  { path: "/users", title: "Users", render: renderUsers, needs: "users:read" },
  { path: "/keys", title: "Keys", render: renderKeys, needs: "keys:read" },
  { path: "/audit", title: "Audit log", render: renderAudit, needs: "audit:read" },
  { path: "/webhooks", title: "Webhooks", render: renderWebhooks, needs: "webhooks:read" },
  // A person's own organizations: the API answers sessions only, never a key.
  { path: "/orgs", title: "Organizations", render: renderOrgs, needs: null, noKeys: true },
  { path: "/staff/orgs", title: "All organizations", render: renderStaffOrgs, needs: "orgs:read" },
  { path: "/roles", title: "Roles", render: renderRoles, needs: "roles:read" },
  // Second factors are a Latchkey session's: Supabase Auth and API keys have none here.
  { path: "/security", title: "Security", render: renderSecurity, needs: null, session: true },
];
const securityPage = pages.find((page) => page.path === "/security");

/** Pages of one thing, `#/<list>/<uuid>`: drawn under their list's entry, with its permission. */
const detailPages = [
  ["/users", "userId", renderUser],
  ["/webhooks", "webhookId", renderWebhookDeliveries],
  ["/orgs", "orgId", renderOrg],
  ["/staff/orgs", "orgId", renderStaffOrg],
].map(([list, idName, render]) => ({
  pattern: new RegExp(`^${list}/([0-9a-f-]{36})$`, "i"),
  list: pages.find((page) => page.path === list),
  idName,
  render,
}));

/** Whether the credential may use the page at all (its role's permissions aside). */
function available(page) {
  if (page.session && credential.get()?.kind !== "session") return false;
  if (page.noKeys && credential.get()?.kind === "apiKey") return false;
  return !mfaRequired || page === securityPage;
}

function offered(page) {
  return available(page) && (!page.needs || can(page.needs));
}

function can(permission) {
  return Boolean(me?.permissions?.includes(permission));
}

/** An error as the API put it: its message and the request id to quote to whoever runs it. */
function notify(error) {
  if (!error) return show(notice);
  if (typeof error === "string") {
    return show(notice, h("div", { class: "notice ok" }, error));
  }
  const apiError = error instanceof ApiError ? error : null;
  show(
    notice,
    h(
      "div",
      { class: "notice error" },
      h("strong", {}, apiError ? `${apiError.message}` : String(error.message ?? error)),
      apiError?.details?.length
        ? h("ul", {}, apiError.details.map((d) => h("li", {}, `${d.path}: ${d.message}`)))
        : null,
      apiError?.requestId
        ? h("small", { class: "request-id" }, `Request id: ${apiError.requestId}`)
        : null,
    ),
  );
  if (apiError?.status === 401 && credential.get()) signOutLocally();
}

function route() {
  const [path, search = ""] = location.hash.replace(/^#/, "").split("?");
  return { path: path || "/", params: new URLSearchParams(search) };
}

let pendingNotice = null;

/** Goes to a page; `message` is shown once that page is drawn. */
function navigate(path, params = {}, message = null) {
  pendingNotice = message;
  const search = new URLSearchParams(
    Object.entries(params).filter(([, value]) => value !== undefined && value !== ""),
  ).toString();
  location.hash = `#${path}${search ? `?${search}` : ""}`;
}

function signOutLocally() {
  credential.clear();
  me = null;
  mfaRequired = false;
  render();
}

/** Any call answered `mfa_required`: enrolment is the way on (a first sign-in of an admin). */
function requireEnrolment() {
  // Supabase Auth's session is raised on a page of its own (supabase_mfa.js), whatever the hash.
  if (credential.get()?.kind === "supabase" && !mfaRequired) {
    mfaRequired = true;
    render();
    return;
  }
  if (credential.get()?.kind !== "session") return;
  mfaRequired = true;
  if (route().path !== "/security") {
    navigate(
      "/security",
      {},
      "Your role needs a second factor: add an authenticator app or a passkey to go on.",
    );
  }
}

/** The factor is confirmed (the session is aal2 now): the session's permissions are read again. */
function enrolled() {
  mfaRequired = false;
  me = null;
  // The overview may be the hash already (typed while only enrolment was offered).
  if (route().path === "/") {
    pendingNotice = "Second factor added.";
    render();
  } else {
    navigate("/", {}, "Second factor added.");
  }
}

/** The Supabase Auth session is aal2 now (the credential its new token): the page goes on. */
function raisedBySupabase(message) {
  mfaRequired = false;
  me = null;
  pendingNotice = message;
  render();
}

async function signOut() {
  const current = credential.get();
  if (current?.kind === "session") {
    await api("POST", "/auth/sign-out", { body: {} }).catch(() => {});
  }
  signOutLocally();
}

let activePage = null;

function drawChrome(active) {
  activePage = active;
  if (!me) {
    show(nav);
    show(whoami);
    return;
  }
  show(
    nav,
    h(
      "ul",
      {},
      pages.filter(offered).map((page) =>
        h(
          "li",
          {},
          h("a", {
            href: `#${page.path}`,
            "aria-current": page === active ? "page" : false,
          }, page.title),
        )
      ),
    ),
  );
  const via = me.apiKey
    ? `API key ${me.apiKey.id.slice(0, 8)}…`
    : me.session?.aal
    ? `session (${me.session.aal})`
    : "session";
  show(
    whoami,
    me.user ? h("span", { class: "who" }, `${me.user.email} · ${me.user.role} · ${via}`) : null,
    h("button", { type: "button", class: "link", onclick: signOut }, "Sign out"),
  );
}

let renders = 0;

/**
 * Draws the page the hash names into a fresh element and swaps it in only if no later
 * navigation started meanwhile (a slow answer never overwrites a newer page). `#main` then
 * carries `aria-busy="false"` and `data-view` = the hash it shows.
 */
async function render() {
  const generation = ++renders;
  main.setAttribute("aria-busy", "true");
  notify(pendingNotice);
  pendingNotice = null;
  const { path, params } = route();
  const view = h("div", { class: "view" });
  const done = () => {
    if (generation !== renders) return;
    main.replaceChildren(view);
    main.setAttribute("aria-busy", "false");
    main.dataset.view = location.hash;
  };
  if (!credential.get()) {
    drawChrome(null);
    renderSignIn(view, { onSignedIn: afterSignIn, notify });
    return done();
  }
  if (!me) {
    try {
      me = await api("GET", "/auth/session");
    } catch (error) {
      if (error.code !== "mfa_required") {
        notify(error);
        return;
      }
      // Not even who we are until a factor is added: enrolment only.
      me = { user: null, permissions: [] };
    }
    // The session says so itself (a role that must use a factor, at aal1): enrolment at once,
    // rather than a page whose every call would be refused.
    if (me.mfaRequired && !mfaRequired && credential.get()?.kind === "session") {
      requireEnrolment();
      // Drawn by the navigation to the Security page (hashchange).
      if (route().path !== "/security") return;
    }
    if (credential.get()?.kind === "supabase") {
      mfaRequired = await supabaseFactorWanted(me).catch((error) => {
        notify(error);
        return Boolean(me.mfaRequired);
      });
    }
  }
  if (mfaRequired && credential.get()?.kind === "supabase") {
    drawChrome(null);
    document.title = "Second factor · Latchkey Console";
    try {
      await renderSupabaseFactor(view, { notify, onRaised: raisedBySupabase });
    } catch (error) {
      show(view, h("h1", {}, "Second factor"), h("p", {}, "Supabase Auth could not be reached."));
      if (generation === renders) notify(error);
    }
    return done();
  }
  const detail = detailPages.find((candidate) => candidate.pattern.test(path));
  const named = detail?.list ?? pages.find((candidate) => candidate.path === path);
  const page = mfaRequired && named !== securityPage ? securityPage : named ?? pages[0];
  drawChrome(page);
  document.title = `${page.title} · Latchkey Console`;
  const context = { params, me, can, navigate, notify };
  if (page === securityPage && mfaRequired) {
    Object.assign(context, { mfaRequired, onEnrolled: enrolled });
  }
  try {
    if (!available(page)) {
      show(view, h("h1", {}, page.title), h("p", {}, "Not available with this credential."));
    } else if (page.needs && !can(page.needs)) {
      show(view, h("h1", {}, page.title), h("p", {}, `Your role has no ${page.needs}.`));
    } else if (detail) {
      const [, id] = detail.pattern.exec(path);
      await detail.render(view, { ...context, [detail.idName]: id });
    } else {
      await page.render(view, context);
    }
  } catch (error) {
    show(view, h("h1", {}, page.title), h("p", {}, "This page could not be loaded."));
    if (generation === renders) notify(error);
  }
  done();
}

async function afterSignIn(value) {
  credential.set(value);
  me = null;
  if (location.hash) await render();
  else navigate("/");
}

onRefusal({ mfaRequired: requireEnrolment, stepUp: askForStepUp });
// A verified factor raised the session (step-up, a confirmed enrolment): the header says so.
addEventListener(sessionRaised, async () => {
  if (!me?.user) return;
  me = await api("GET", "/auth/session").catch(() => me);
  drawChrome(activePage);
});
addEventListener("hashchange", render);
// The skip link moves focus to the page's content; as a plain #main link the router would read
// it as a route and show the overview instead.
document.querySelector("a.skip")?.addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});
try {
  await loadConfig();
  await render();
} catch (error) {
  show(
    main,
    h("h1", {}, "The console could not start"),
    h("p", {}, String(error.message ?? error)),
  );
}
