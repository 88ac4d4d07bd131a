import assert from "node:assert/strict";
import { type Page } from "../support/browser.ts";
import {
  asAdminKey,
  baseUrl,
  call,
  createAccount,
  createKey,
  enrolTotp,
  functionsUrl,
  issueKey,
  recordSecret,
  signIn,
  signUp,
  totpCode,
  uniqueEmail,
  withDatabase,
} from "../support/http.ts";
import {
  browserTest,
  curlJson,
  notice,
  openConsole,
  openFromNav,
  recordPage,
  refusedStatuses,
  shown,
  signInWithFactor,
  signInWithPassword,
  withBrowser,
} from "../support/console.ts";
import { ageSecondFactor } from "../support/step_up.ts";

/**
 * The Latchkey Console as support and admin people use it, in Debian's chromium: every page
 * screenshotted (the README shows them) and checked with axe-core, no console error (a CSP
 * violation is one), nothing loaded from another origin. Ignored, and counted as skipped by
 * the test command, when there is no chromium.
 */

const consoleUrl = `${functionsUrl}/console/`;

browserTest("support flow: find a user, revoke their sessions, read the audit entry", async () => {
  const support = await createAccount("support", "console-support");
  const person = await signUp("console-target");
  const second = await signIn(person.email, person.password);
  assert.equal(second.status, 200);
  // Audited sign-ins elsewhere, so the log has more than one page of 10 even on its own.
  for (let i = 0; i < 10; i++) await signUp("console-filler");
  const violations: Record<string, string[]> = {};

  await withBrowser(async (browser) => {
    const { page, errors, foreignRequests } = await openConsole(browser, consoleUrl, baseUrl);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await recordPage(page, "sign-in", violations);

    // A wrong password: the envelope's message and its request id, nothing else.
    await signInWithPassword(page, support.email, "not the password at all");
    await notice(page).waitFor();
    assert.match(await notice(page).innerText(), /The email or password is not correct/);
    assert.match(await notice(page).innerText(), /Request id: [0-9a-f-]{36}/);

    await signInWithFactor(page, support);
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    assert.equal(await page.getByTestId("role").innerText(), "support");
    assert.match(await page.locator("li", { hasText: "users:write" }).innerText(), /no:/);
    assert.equal(await page.getByRole("link", { name: "Audit log" }).count(), 1);
    await recordPage(page, "overview-support", violations);

    await openFromNav(page, "Users", "#/users");
    await page.getByLabel("Search email or name").fill(person.email.split("@")[0]);
    await page.getByRole("button", { name: "Find" }).click();
    await shown(page, "q=");
    assert.equal(await page.locator("tbody tr").count(), 1, "the search finds one person");
    await page.getByRole("link", { name: person.email }).click();
    await page.getByRole("heading", { name: /Sessions \(2\)/ }).waitFor();
    // What support may not do is not offered.
    assert.equal(await page.getByRole("button", { name: "Ban" }).count(), 0);
    assert.equal(await page.getByRole("button", { name: "Set password" }).count(), 0);
    await recordPage(page, "user-support", violations);

    await page.getByRole("button", { name: "Revoke all sessions" }).click();
    await page.getByText("Signed out everywhere.").waitFor();
    await page.getByRole("heading", { name: /Sessions \(0\)/ }).waitFor();
    assert.equal((await call("GET", "/auth/session", { token: person.token })).status, 401);

    // The audit entry the revocation wrote, on the user's page and in the log with its JSON.
    const trail = page.locator("section", {
      has: page.getByRole("heading", { name: "Audit trail" }),
    });
    await trail.getByText("admin.sessions_revoked", { exact: true }).waitFor();
    await openFromNav(page, "Audit log", "#/audit");
    await page.getByLabel("Action").fill("admin.sessions_revoked");
    await page.getByLabel("Target id").fill(person.id);
    await page.getByRole("button", { name: "Filter" }).click();
    await shown(page, "action=admin.sessions_revoked");
    assert.equal(await page.locator("tbody tr").count(), 1);
    await page.locator("summary", { hasText: "JSON" }).click();
    const event = JSON.parse(await page.locator("pre.json").innerText());
    assert.equal(event.action, "admin.sessions_revoked");
    assert.equal(event.actorUserId, support.id);
    assert.equal(event.targetId, person.id);
    assert.equal(event.metadata.revokedSessions, 2);
    await recordPage(page, "audit", violations);

    // Cursor pages of the whole log: the next page starts older than this one ends.
    await openFromNav(page, "Audit log", "#/audit");
    await page.getByLabel("Per page").selectOption("10");
    await page.getByRole("button", { name: "Filter" }).click();
    await shown(page, "limit=10");
    assert.equal(await page.locator("tbody tr").count(), 10);
    const lastOnFirst = await page.locator("tbody tr time").last().getAttribute("datetime");
    await page.getByRole("button", { name: "Next page" }).click();
    await shown(page, "cursor=");
    const firstOnSecond = await page.locator("tbody tr time").first().getAttribute("datetime");
    assert.ok(firstOnSecond! <= lastOnFirst!, `${firstOnSecond} after ${lastOnFirst}`);
    await page.goBack();
    await page.getByRole("button", { name: "First page" }).waitFor({ state: "detached" });

    // The export: the same log as NDJSON, through the browser's download.
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Export NDJSON" }).click(),
    ]);
    const exported = (await Deno.readTextFile(await download.path())).trim().split("\n")
      .map((line) => JSON.parse(line));
    assert.ok(exported.some((row) => row.id === event.id), "the event is in the export");

    // The wrong password's 401, and nothing else.
    assert.deepEqual(refusedStatuses(errors), [401]);
    assert.deepEqual(foreignRequests, []);
  });
  assert.deepEqual(violations, {}, "axe-core: serious or critical violations");
});

browserTest("admin flow: create a user, make and copy a key, ban and unban", async () => {
  const admin = await createAccount("admin", "console-admin");
  const email = uniqueEmail("console-made");
  const password = `console-${crypto.randomUUID()}`;
  recordSecret(password);
  const violations: Record<string, string[]> = {};

  await withBrowser(async (browser) => {
    const { page, errors, foreignRequests } = await openConsole(browser, consoleUrl, baseUrl);
    await signInWithFactor(page, admin);
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    // The suite's X-Admin-Key has no expiry: the overview says so, by name.
    await page.locator('[data-code="admin_key_never_expires"]').waitFor();
    await recordPage(page, "overview-admin", violations);

    await openFromNav(page, "Users", "#/users");
    // The skip link moves focus to the content and leaves the page where it is.
    const skip = page.getByRole("link", { name: "Skip to content" });
    await skip.focus();
    await skip.press("Enter");
    assert.equal(new URL(page.url()).hash, "#/users");
    assert.equal(await page.evaluate<string>("document.activeElement?.id"), "main");
    // A favicon of its own: no 404 for /favicon.ico on every load.
    const icon = await page.evaluate<string>(
      "fetch(document.querySelector('link[rel=icon]').href).then((r) => r.status + ' ' + " +
        "r.headers.get('content-type'))",
    );
    assert.equal(icon, "200 image/svg+xml");
    const create = page.locator("form", {
      has: page.getByRole("heading", { name: "Create a user" }),
    });
    await create.getByLabel("Email").fill(email);
    await create.getByLabel("Name").fill("Made In Console");
    await create.getByLabel("Password").fill(password);
    await create.getByRole("button", { name: "Create user" }).click();
    await page.getByRole("heading", { name: /Made In Console/ }).waitFor();
    await page.getByText(`Created ${email}.`).waitFor();
    const userId = new URL(page.url()).hash.split("/").pop()!;

    const keyForm = page.locator("form", {
      has: page.getByRole("heading", { name: "Create a key" }),
    });
    await keyForm.getByLabel("Name").fill("from-console");
    // A double click makes one key: the button is busy, and the form keeps its Idempotency-Key.
    await keyForm.getByRole("button", { name: "Create key" }).dblclick();
    const secret = await page.getByTestId("new-key").innerText();
    const made = await asAdminKey("GET", `/admin/keys?userId=${userId}`);
    assert.equal(made.body.keys.length, 1, "one key for one double click");
    recordSecret(secret);
    await page.getByRole("button", { name: "Copy key" }).click();
    await page.getByText("Copied.").waitFor();
    const copied = await page.evaluate<string>("navigator.clipboard.readText()");
    assert.equal(copied, secret);
    await recordPage(page, "user-admin-new-key", violations);

    const first = await curlJson(`${functionsUrl}/keys/verify`, { key: copied });
    assert.equal(first.valid, true);
    assert.equal(first.userId, userId);

    // Rotation asks how long the old secret may work: "stops now" is the default (a leak);
    // a planned rotation picks an hour, and the old key keeps working through it.
    await page.getByRole("button", { name: "Rotate key from-console" }).click();
    const overlap = page.getByLabel("Old secret of from-console works for");
    assert.equal(await overlap.inputValue(), "0");
    await overlap.selectOption("3600");
    await page.getByRole("button", { name: "Rotate key from-console now" }).click();
    await page.getByTestId("new-key").filter({ hasNotText: copied }).waitFor();
    const rotated = await page.getByTestId("new-key").innerText();
    recordSecret(rotated);
    assert.notEqual(rotated, copied);
    assert.equal((await curlJson(`${functionsUrl}/keys/verify`, { key: copied })).code, "VALID");
    const verify = () => curlJson(`${functionsUrl}/keys/verify`, { key: rotated });
    assert.equal((await verify()).code, "VALID");
    assert.equal(await page.getByRole("button", { name: "Rotate key from-console" }).count(), 1);

    // Tier, then a password set for them (their sessions go; the new password works).
    const change = page.locator("section", { has: page.getByRole("heading", { name: "Change" }) });
    await change.getByLabel("Tier").fill("pro");
    await change.getByRole("button", { name: "Save" }).click();
    await page.getByText("Saved.").waitFor();
    assert.equal(await change.getByLabel("Tier").inputValue(), "pro");
    const newPassword = `console-set-${crypto.randomUUID()}`;
    recordSecret(newPassword);
    await change.getByLabel("New password").fill(newPassword);
    await change.getByRole("button", { name: "Set password" }).click();
    await page.getByText("Password set; their sessions were revoked.").waitFor();
    assert.equal((await signIn(email, newPassword)).status, 200);
    assert.equal((await signIn(email, password)).status, 401);

    await page.getByLabel("Ban reason").fill("console test");
    await page.getByRole("button", { name: "Ban" }).click();
    await page.getByTestId("banned").waitFor();
    assert.match(await page.getByTestId("banned").innerText(), /console test/);
    assert.equal((await verify()).code, "OWNER_BANNED");

    await page.getByRole("button", { name: "Unban" }).click();
    await page.getByText("Unbanned.").waitFor();
    assert.equal(await page.getByTestId("banned").count(), 0);
    assert.equal((await verify()).code, "VALID");

    // Network limits: a bad line is named by the API's refusal; a good one is shown and binds.
    // Only the newest key offers them: the old one, in its overlap, answers to its successor's.
    assert.equal(
      await page.getByRole("button", { name: "Edit network limits of from-console" }).count(),
      1,
    );
    await page.getByRole("button", { name: "Edit network limits of from-console" }).click();
    const networks = page.getByLabel("Allowed networks of from-console");
    await networks.fill("10.0.0.1/8");
    await page.getByRole("button", { name: "Save network limits of from-console" }).click();
    await notice(page).getByText("allowedNetworks.0").waitFor();
    await networks.fill("203.0.113.0/24\n");
    await page.getByRole("button", { name: "Save network limits of from-console" }).click();
    await page.getByText('Saved the network limits of "from-console".').waitFor();
    assert.equal(await page.getByTestId("network-limits").first().innerText(), "203.0.113.0/24");
    const from = (clientAddress: string) =>
      curlJson(`${functionsUrl}/keys/verify`, { key: rotated, clientAddress });
    assert.equal((await from("198.51.100.1")).code, "NETWORK_NOT_ALLOWED");
    assert.equal((await from("203.0.113.1")).code, "VALID");

    // The key in the keys list, then revoked from there.
    await openFromNav(page, "Keys", "#/keys");
    await page.getByLabel("Owner id").fill(userId);
    await page.getByRole("button", { name: "Filter" }).click();
    await shown(page, `userId=${userId}`);

    // Unused for N days: the rotated-away key, moved three days into the past, and only it.
    await withDatabase((sql) =>
      sql`update latchkey.api_keys set created_at = now() - interval '3 days',
            last_used_at = now() - interval '3 days'
          where user_id = ${userId} and replaced_by is not null`
    );
    await page.getByLabel("Unused for days").fill("2");
    await page.getByRole("button", { name: "Filter" }).click();
    await shown(page, "unusedForDays=2");
    assert.equal(await page.locator("tbody tr").count(), 1);
    assert.equal(await page.getByRole("button", { name: "Rotate key from-console" }).count(), 0);
    await page.getByLabel("Unused for days").fill("");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.locator('#main[aria-busy="false"]:not([data-view*="unusedForDays"])').waitFor();
    // Newest first: the rotated key's successor, then the old one in its overlap.
    await page.getByRole("button", { name: "Revoke key from-console" }).first().click();
    await page.getByText('Revoked "from-console".').waitFor();
    await recordPage(page, "keys", violations);
    assert.equal((await verify()).code, "REVOKED");

    // An action the API refuses shows the envelope: the last admin cannot lose the role, but
    // here a taken email is simpler — making the same person again is a conflict.
    await openFromNav(page, "Users", "#/users");
    await create.getByLabel("Email").fill(email);
    await create.getByLabel("Name").fill("Again");
    await create.getByLabel("Password").fill(password);
    await create.getByRole("button", { name: "Create user" }).click();
    await notice(page).waitFor();
    assert.match(await notice(page).innerText(), /A user with this email exists/);
    assert.match(await notice(page).innerText(), /Request id: [0-9a-f-]{36}/);
    await recordPage(page, "users-admin", violations);

    // The bad network's 400, the taken email's 409, and nothing else.
    assert.deepEqual(refusedStatuses(errors), [400, 409]);
    assert.deepEqual(foreignRequests, []);
  });
  const [event] =
    (await asAdminKey("GET", `/admin/audit?action=admin.user_created&actorId=${admin.id}`))
      .body.events;
  assert.equal(event.metadata.after.email, email);
  assert.deepEqual(violations, {}, "axe-core: serious or critical violations");
});

browserTest("support's pages: only what reaches, the user's whole trail, who acted", async () => {
  const support = await createAccount("support", "edges-support");
  const admin = await createAccount("admin", "edges-admin");
  await issueKey(admin.id, { name: "admin-key" });
  const person = await signUp("edges-person");
  await createKey(person.token, { name: "person-key" });
  // A ban and an unban, each with a long unbroken client name: an event's JSON wraps in its cell.
  const headers = { "user-agent": `latchkey-tests/${"x".repeat(400)}` };
  for (const banned of [true, false]) {
    const answer = await asAdminKey("PATCH", `/admin/users/${person.id}`, {
      body: { banned },
      headers,
    });
    assert.equal(answer.status, 200);
  }
  // The ban ended their sessions: one again, for support to revoke.
  assert.equal((await signIn(person.email, person.password)).status, 200);
  const violations: Record<string, string[]> = {};

  await withBrowser(async (browser) => {
    const { page, errors, foreignRequests } = await openConsole(browser, consoleUrl, baseUrl);
    await signInWithFactor(page, support);
    await page.getByRole("heading", { name: "Overview" }).waitFor();

    // An admin's page: support reads it but is offered nothing the API would refuse (403).
    await page.goto(`${consoleUrl}#/users/${admin.id}`);
    await shown(page, admin.id);
    await page.getByRole("heading", { name: /Sessions \(1\)/ }).waitFor();
    await page.getByRole("cell", { name: "admin-key", exact: true }).waitFor();
    assert.equal(await page.getByRole("button", { name: "Revoke all sessions" }).count(), 0);
    assert.equal(await page.getByRole("button", { name: "Revoke key admin-key" }).count(), 0);

    // A user's page: support may act there, and the trail has the key's events too.
    await page.goto(`${consoleUrl}#/users/${person.id}`);
    await shown(page, person.id);
    assert.equal(await page.getByRole("button", { name: "Revoke all sessions" }).count(), 1);
    assert.equal(await page.getByRole("button", { name: "Revoke key person-key" }).count(), 1);

    // The Keys page likewise: the admin's key is listed, not offered for revoking (support
    // may revoke keys, but not an admin's; it may rotate none).
    const keysOf = [[admin, "admin-key", 0], [person, "person-key", 1]] as const;
    for (const [owner, key, offered] of keysOf) {
      await page.goto(`${consoleUrl}#/keys?userId=${owner.id}`);
      await shown(page, `userId=${owner.id}`);
      await page.getByRole("cell", { name: key, exact: true }).waitFor();
      const revoke = page.getByRole("button", { name: `Revoke key ${key}` });
      assert.equal(await revoke.count(), offered, `Revoke ${key}`);
      assert.equal(await page.getByRole("button", { name: `Rotate key ${key}` }).count(), 0);
    }
    await page.goto(`${consoleUrl}#/users/${person.id}`);
    await shown(page, person.id);
    const trail = page.locator("section", {
      has: page.getByRole("heading", { name: "Audit trail" }),
    });
    const created = trail.locator("tr", { has: page.getByText("api_key.created") });
    await created.waitFor();
    // Who acted: their email, the ids on hover.
    const actor = created.getByRole("link", { name: person.email });
    assert.match((await actor.getAttribute("title"))!, new RegExp(person.id));
    assert.equal(await trail.getByText(/session [0-9a-f]{8}…/).count(), 0);

    // The JSON of the ban wraps inside its cell, at a narrow width too.
    await page.setViewportSize({ width: 800, height: 900 });
    const banned = trail.locator("tr", { hasText: "admin.user_updated" }).first();
    await banned.locator("summary", { hasText: "JSON" }).click();
    assert.match(await banned.locator("pre.json").innerText(), /x{400}/);
    const fits = await banned.locator("pre.json").evaluate((pre) => {
      const cell = pre.closest("td")!.getBoundingClientRect();
      const box = pre.getBoundingClientRect();
      const root = pre.ownerDocument.documentElement;
      return {
        wraps: pre.scrollWidth <= pre.clientWidth,
        inCell: box.right <= cell.right + 0.5,
        inPage: root.scrollWidth <= root.clientWidth,
      };
    });
    assert.deepEqual(fits, { wraps: true, inCell: true, inPage: true });
    await recordPage(page, "user-support-trail", violations);
    await page.setViewportSize({ width: 1280, height: 900 });

    // The action filter suggests the actions that exist; a ban is admin.user_updated.
    await page.getByRole("link", { name: "All events about this user" }).click();
    await shown(page, `subject=${person.id}`);
    await page.getByText("api_key.created", { exact: true }).waitFor();
    const action = page.getByLabel("Action");
    assert.notEqual(await action.getAttribute("placeholder"), "admin.user_banned");
    const suggested = await page.locator(`datalist#${await action.getAttribute("list")} option`)
      .evaluateAll((options) => options.map((option) => option.getAttribute("value")));
    assert.ok(suggested.includes("admin.user_updated"), suggested.join(" "));
    assert.ok(suggested.includes("api_key.created"));
    assert.ok(!suggested.includes("admin.user_banned"));
    await action.fill("admin.user_updated");
    await page.getByRole("button", { name: "Filter" }).click();
    await shown(page, "action=admin.user_updated");
    assert.equal(await page.locator("tbody tr").count(), 2, "the ban and the unban");
    await recordPage(page, "audit-subject", violations);

    assert.deepEqual(errors, []);
    assert.deepEqual(foreignRequests, []);
  });
  assert.deepEqual(violations, {}, "axe-core: serious or critical violations");
});

/** The id of the session the console holds (its token read from the tab's storage). */
async function consoleSessionId(page: Page): Promise<string> {
  const stored = await page.evaluate(() =>
    JSON.parse(sessionStorage.getItem("latchkey.console.credential") ?? "null")
  );
  recordSecret(stored.token);
  const answer = await call("GET", "/auth/session", { token: stored.token });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body.session.id;
}

browserTest("admin flow: who has no second factor, and a reset with a step-up", async () => {
  const tag = `nofactor${crypto.randomUUID().slice(0, 6)}`;
  // The admin keeps the recovery codes of their factor: one signs the browser in, so the app's
  // next code is free for the step-up (a code's 30-second step is taken once).
  const admin = await createAccount("admin", tag, { secondFactor: false });
  const { factorId, secret, recoveryCodes } = await enrolTotp(admin);
  admin.totp = { factorId, secret };
  const target = await createAccount("support", tag);
  const unguarded = await createAccount("admin", tag, { secondFactor: false });
  const person = await signUp(tag);
  const violations: Record<string, string[]> = {};

  await withBrowser(async (browser) => {
    const { page, errors, foreignRequests } = await openConsole(browser, consoleUrl, baseUrl);
    await signInWithPassword(page, admin.email, admin.password);
    await page.getByRole("button", { name: "Use a recovery code" }).click();
    await page.getByLabel("Recovery code").fill(recoveryCodes[0]);
    await page.getByRole("button", { name: "Verify and sign in" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();

    // The list says who has a factor; a role that must have one and has none stands out.
    await openFromNav(page, "Users", "#/users");
    await page.getByLabel("Search email or name").fill(tag);
    await page.getByRole("button", { name: "Find" }).click();
    await shown(page, `q=${tag}`);
    const row = (account: { email: string }) =>
      page.locator("tbody tr", { has: page.getByRole("link", { name: account.email }) });
    const factorCell = async (account: { email: string }) =>
      (await row(account).locator("td").nth(5).innerText()).trim();
    assert.equal(await page.locator("tbody tr").count(), 4);
    assert.equal(await factorCell(admin), "1 · authenticator app");
    assert.equal(await factorCell(target), "1 · authenticator app");
    assert.equal(await factorCell(unguarded), "No second factor (required for admin)");
    assert.equal(await row(unguarded).locator(".bad").count(), 1, "stands out");
    assert.equal(await factorCell(person), "No second factor");
    assert.equal(await row(person).locator(".bad").count(), 0);

    await page.getByLabel("Second factor").selectOption("false");
    await page.getByRole("button", { name: "Find" }).click();
    await shown(page, "secondFactor=false");
    assert.deepEqual(
      await page.locator("tbody tr td:first-child").allInnerTexts(),
      [person.email, unguarded.email],
    );
    await recordPage(page, "users-second-factor", violations);

    // A user's page: their factors, the codes left, and the reset (users:write, within reach).
    await page.getByLabel("Second factor").selectOption("true");
    await page.getByRole("button", { name: "Find" }).click();
    await shown(page, "secondFactor=true");
    await page.getByRole("link", { name: target.email }).click();
    await shown(page, target.id);
    const factors = page.locator("section", {
      has: page.getByRole("heading", { name: /^Second factors/ }),
    });
    await factors.getByRole("cell", { name: "Authenticator app", exact: true }).waitFor();
    assert.equal(
      await page.getByTestId("user-recovery-left").innerText(),
      "Recovery codes left: 10 of 10.",
    );
    await page.getByRole("heading", { name: /Sessions \(1\)/ }).waitFor();

    // The sign-in's factor, as if verified 11 minutes ago: the reset asks for a fresh one.
    await ageSecondFactor(await consoleSessionId(page), 11);
    await page.getByRole("button", { name: "Reset second factors" }).click();
    await factors.getByText("All their sessions end now").waitFor();
    await recordPage(page, "user-reset-factors", violations);
    await page.getByRole("button", { name: "Reset and end their sessions" }).click();
    const dialog = page.getByRole("dialog", { name: "Confirm it is you" });
    await dialog.waitFor();
    await dialog.getByLabel("Code from your authenticator app").fill(totpCode(secret, 1));
    await dialog.getByRole("button", { name: "Verify and continue" }).click();
    await page.getByText(
      "Second factors reset: 1 factor(s) and 10 recovery code(s) removed, 1 session(s) ended.",
    ).waitFor();
    await dialog.waitFor({ state: "detached" });
    await page.getByRole("heading", { name: "Second factors (0)" }).waitFor();
    await factors.getByText("as support, they must add one before they can act").waitFor();
    assert.equal(await page.getByRole("button", { name: "Reset second factors" }).count(), 0);
    assert.equal(
      await page.getByTestId("user-second-factor").innerText(),
      "No second factor (required for support)",
    );
    await page.getByRole("heading", { name: /Sessions \(0\)/ }).waitFor();
    const trail = page.locator("section", {
      has: page.getByRole("heading", { name: "Audit trail" }),
    });
    await trail.getByText("admin.factors_reset", { exact: true }).waitFor();
    await recordPage(page, "user-factors-reset", violations);

    // The reset's refusal before the code, and nothing else.
    assert.deepEqual(refusedStatuses(errors), [403]);
    assert.deepEqual(foreignRequests, []);
  });
  assert.equal((await call("GET", "/auth/session", { token: target.token })).status, 401);
  const [event] = (await asAdminKey(
    "GET",
    `/admin/audit?action=admin.factors_reset&targetId=${target.id}`,
  )).body.events;
  assert.equal(event.actorUserId, admin.id);
  assert.deepEqual(event.metadata, {
    factorsRemoved: 1,
    recoveryCodesRemoved: 10,
    revokedSessions: 1,
  });
  const after = await asAdminKey("GET", `/admin/users/${target.id}/factors`);
  assert.deepEqual(after.body, { factors: [], recoveryCodesLeft: 0 });
  assert.deepEqual(violations, {}, "axe-core: serious or critical violations");
});

browserTest("support sees who has no second factor, and is offered no reset", async () => {
  const support = await createAccount("support", "factors-support");
  const person = await signUp("factors-person");
  await enrolTotp(person);
  const admin = await createAccount("admin", "factors-admin");
  const violations: Record<string, string[]> = {};

  await withBrowser(async (browser) => {
    const { page, errors } = await openConsole(browser, consoleUrl, baseUrl);
    await signInWithFactor(page, support);
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    await openFromNav(page, "Users", "#/users");
    await page.getByLabel("Second factor").selectOption("true");
    await page.getByLabel("Search email or name").fill(person.email);
    await page.getByRole("button", { name: "Find" }).click();
    await shown(page, "secondFactor=true");
    await page.getByRole("cell", { name: "1 · authenticator app" }).waitFor();

    // A person support may act on, and an admin beyond its reach: the factors are shown on
    // both, a reset on neither (it needs users:write).
    for (const account of [person, admin]) {
      await page.goto(`${consoleUrl}#/users/${account.id}`);
      await shown(page, account.id);
      await page.getByRole("heading", { name: "Second factors (1)" }).waitFor();
      await page.getByRole("cell", { name: "Authenticator app", exact: true }).waitFor();
      assert.equal(await page.getByTestId("user-recovery-left").count(), 1);
      assert.equal(await page.getByRole("button", { name: "Reset second factors" }).count(), 0);
    }
    await recordPage(page, "user-support-factors", violations);
    assert.deepEqual(errors, []);
  });
  assert.deepEqual(violations, {}, "axe-core: serious or critical violations");
});

browserTest("an admin-scoped API key signs in and sees only what its scopes allow", async () => {
  const admin = await createAccount("admin", "console-key-owner");
  const key = await issueKey(admin.id, { name: "console", scopes: ["users:read", "audit:read"] });
  recordSecret(key.key);
  await withBrowser(async (browser) => {
    const { page, errors } = await openConsole(browser, consoleUrl, baseUrl);
    await page.getByLabel("Admin-scoped API key").fill(key.key);
    await page.getByRole("button", { name: "Use key" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    assert.match(await page.locator("#whoami").innerText(), /API key/);
    assert.equal(await page.getByRole("link", { name: "Users" }).count(), 1);
    assert.equal(await page.getByRole("link", { name: "Keys" }).count(), 0);
    // The key's scopes, not its owner's role: no user creation offered.
    await openFromNav(page, "Users", "#/users");
    await page.locator("tbody tr").first().waitFor();
    assert.equal(await page.getByRole("heading", { name: "Create a user" }).count(), 0);
    // A reload keeps the tab signed in; signing out forgets the key.
    await page.reload();
    await shown(page, "#/users");
    await page.locator("tbody tr").first().waitFor();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.deepEqual(errors, []);
  });
});

Deno.test("the gateway serves the console with a strict policy and no inline script", async () => {
  const redirect = await fetch(`${functionsUrl}/console`, { redirect: "manual" });
  assert.equal(redirect.status, 308);
  assert.equal(redirect.headers.get("location"), "/functions/v1/console/");
  await redirect.body?.cancel();
  const page = await fetch(consoleUrl);
  const policy = page.headers.get("content-security-policy") ?? "";
  for (
    const directive of [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "frame-ancestors 'none'",
      "require-trusted-types-for 'script'",
    ]
  ) assert.ok(policy.includes(directive), `${directive} in ${policy}`);
  const html = await page.text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, "every script has a src");
  assert.doesNotMatch(html, /style=/);
  const missing = await fetch(`${functionsUrl}/console/src/nope.js`);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});
