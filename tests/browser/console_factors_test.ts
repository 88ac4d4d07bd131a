import assert from "node:assert/strict";
import { type Browser, type Page } from "../support/browser.ts";
import {
  baseUrl,
  call,
  createAccount,
  enrolTotp,
  functionsUrl,
  recordSecret,
  signIn,
  signUp,
  type TestAccount,
  testClient,
  totpCode,
} from "../support/http.ts";
import {
  addVirtualAuthenticator,
  browserTest,
  notice,
  onLocalhost,
  openConsole,
  openFromNav,
  recordPage,
  refusedStatuses,
  signInWithPassword,
  withBrowser,
} from "../support/console.ts";
import { ageSecondFactor } from "../support/step_up.ts";

/**
 * Second factors in the Latchkey Console (issue 28, item 6), in Debian's chromium: the code
 * asked for at sign-in (and a recovery code instead), the Security page (enrol an authenticator
 * app from its QR code, recovery codes shown once, rename, remove), passkeys (made, signed in
 * with and stepped up with through a virtual authenticator in chromium), step-up asked for and
 * the action sent again (a code, a passkey, a recovery code), and a role that must enrol taken
 * to enrolment. Every page is checked with
 * axe-core; no console error (a CSP violation is one) but the refusals each test names.
 */

const consoleUrl = `${functionsUrl}/console/`;

const codeOf = totpCode;

/** Six digits no step the server accepts now (this one and one either side) would take. */
function wrongCodeOf(secret: string): string {
  const valid = [-1, 0, 1, 2].map((offset) => codeOf(secret, offset));
  return ["123456", "654321", "111111"].find((code) => !valid.includes(code))!;
}

interface Enrolled {
  factorId: string;
  secret: string;
  recoveryCodes: string[];
}

/**
 * A confirmed TOTP factor on `account`, through the API with its sign-up session (now aal2).
 * The confirming code takes this time step: the next code the browser uses is a later step's.
 */
function enrolThroughApi(account: TestAccount, name = "Phone"): Promise<Enrolled> {
  return enrolTotp(account, name);
}

/**
 * The console on a client address of its own, so its failed codes count against no other test;
 * `onLocalhost` for passkeys (the API the console calls is its own origin).
 */
async function openOwnConsole(browser: Browser, { onLocalhost: local = false } = {}) {
  const opened = local
    ? await openConsole(browser, onLocalhost(consoleUrl), new URL(onLocalhost(baseUrl)).origin)
    : await openConsole(browser, consoleUrl, baseUrl);
  const client = testClient();
  await opened.context.setExtraHTTPHeaders(client);
  await opened.page.getByRole("heading", { name: "Sign in" }).waitFor();
  return { ...opened, client };
}

async function overview(page: Page) {
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  await page.locator('#main[aria-busy="false"]').waitFor();
}

function problem(page: Page) {
  return page.locator(".form-problem");
}

browserTest(
  "sign-in asks for the code: a wrong one stays, a right one signs in at aal2",
  async () => {
    const account = await signUp("console-mfa-sign-in");
    const factor = await enrolThroughApi(account);
    const violations: Record<string, string[]> = {};

    await withBrowser(async (browser) => {
      const { page, errors, foreignRequests } = await openOwnConsole(browser);
      await signInWithPassword(page, account.email, account.password);
      await page.getByRole("heading", { name: "Second factor" }).waitFor();
      const code = page.getByLabel("Code from your authenticator app");
      assert.equal(await code.getAttribute("autocomplete"), "one-time-code");
      assert.equal(await code.getAttribute("inputmode"), "numeric");
      // The prompt takes the focus, so the code can be typed (or pasted by the app) at once.
      assert.equal(
        await code.evaluate((input) => input === input.ownerDocument.activeElement),
        true,
      );
      // No session yet: nothing in the tab's storage, no nav.
      assert.equal(await page.evaluate(() => sessionStorage.length), 0);
      assert.equal(await page.getByRole("link", { name: "Overview" }).count(), 0);
      await recordPage(page, "sign-in-factor", violations);

      await code.fill(wrongCodeOf(factor.secret));
      await page.getByRole("button", { name: "Verify and sign in" }).click();
      await problem(page).filter({ hasText: "Wrong code" }).waitFor();
      assert.match(await problem(page).innerText(), /not right \(check the device's clock\)/);
      assert.equal(await code.inputValue(), "", "cleared for the next try");
      await page.getByRole("heading", { name: "Second factor" }).waitFor();

      // The confirming code took this step; the next one is the first that is not a replay.
      await code.fill(codeOf(factor.secret, 1));
      await page.getByRole("button", { name: "Verify and sign in" }).click();
      await overview(page);
      assert.match(await page.locator("#whoami").innerText(), /session \(aal2\)/);
      const session = await page.evaluate(() =>
        JSON.parse(sessionStorage.getItem("latchkey.console.credential") ?? "null")
      );
      recordSecret(session.token);
      const checked = await call("GET", "/auth/session", { token: session.token });
      assert.equal(checked.body.session.aal, "aal2");
      assert.deepEqual(
        checked.body.session.amr.map((entry: { method: string }) => entry.method),
        ["password", "totp"],
      );

      // The wrong code's 400, and nothing else.
      assert.deepEqual(refusedStatuses(errors), [400]);
      assert.deepEqual(foreignRequests, []);
    });
    assert.deepEqual(violations, {}, "axe-core: serious or critical violations");
  },
);

browserTest(
  "sign-in with a recovery code spends it; throttled codes say when to retry",
  async () => {
    const account = await signUp("console-mfa-recovery");
    const factor = await enrolThroughApi(account);

    await withBrowser(async (browser) => {
      const { page, errors, client } = await openOwnConsole(browser);
      await signInWithPassword(page, account.email, account.password);
      await page.getByRole("heading", { name: "Second factor" }).waitFor();
      await page.getByRole("button", { name: "Use a recovery code" }).click();
      const recovery = page.getByLabel("Recovery code");
      assert.equal(
        await recovery.evaluate((input) => input === input.ownerDocument.activeElement),
        true,
      );
      await recovery.fill(factor.recoveryCodes[3]);
      await page.getByRole("button", { name: "Verify and sign in" }).click();
      await overview(page);
      assert.match(await page.locator("#whoami").innerText(), /session \(aal2\)/);

      await openFromNav(page, "Security", "#/security");
      await page.getByRole("cell", { name: "Phone", exact: true }).waitFor();
      assert.equal(
        await page.getByTestId("recovery-left").innerText(),
        "Recovery codes left: 9 of 10.",
      );

      // The same code again, from a new sign-in: spent.
      await page.getByRole("button", { name: "Sign out" }).click();
      await signInWithPassword(page, account.email, account.password);
      await page.getByRole("button", { name: "Use a recovery code" }).click();
      await page.getByLabel("Recovery code").fill(factor.recoveryCodes[3]);
      await page.getByRole("button", { name: "Verify and sign in" }).click();
      await problem(page).filter({ hasText: "Wrong code" }).waitFor();

      // Ten failed sign-ins for this email from this client: the next code is throttled, and the
      // prompt says when to try again.
      for (let i = 0; i < 10; i++) {
        const refused = await signIn(account.email, "not the password", client);
        if (refused.status === 429) break;
        assert.equal(refused.status, 401);
      }
      await page.getByLabel("Recovery code").fill(factor.recoveryCodes[4]);
      await page.getByRole("button", { name: "Verify and sign in" }).click();
      await problem(page).filter({ hasText: "Too many" }).waitFor();
      assert.match(await problem(page).innerText(), /Try again in \d+ (seconds|minutes)/);
      await page.getByRole("heading", { name: "Second factor" }).waitFor();

      // Back to the password form, which the Back button offers.
      await page.getByRole("button", { name: "Back" }).click();
      await page.getByRole("heading", { name: "Sign in" }).waitFor();

      assert.deepEqual(refusedStatuses(errors), [400, 429]);
    });
  },
);

browserTest(
  "the Security page enrols an authenticator app: QR code, first code, codes once",
  async () => {
    const account = await signUp("console-mfa-enrol");
    const violations: Record<string, string[]> = {};

    await withBrowser(async (browser) => {
      const { page, errors, foreignRequests } = await openOwnConsole(browser);
      await signInWithPassword(page, account.email, account.password);
      await overview(page);
      assert.match(await page.locator("#whoami").innerText(), /session \(aal1\)/);
      await openFromNav(page, "Security", "#/security");
      await page.getByText("No second factor yet").waitFor();
      await recordPage(page, "security-empty", violations);

      await page.getByLabel("Name", { exact: true }).fill("Phone");
      await page.getByRole("button", { name: "Add authenticator app" }).click();
      const qr = page.getByRole("img", { name: /QR code/ });
      await qr.waitFor();
      // The QR code is an image from a data: URL, drawn under the strict policy.
      assert.match((await qr.getAttribute("src"))!, /^data:image\/svg\+xml,/);
      const loaded = await qr.evaluate((img) => {
        const image = img as unknown as { complete: boolean; naturalWidth: number };
        return image.complete && image.naturalWidth > 0;
      });
      assert.ok(loaded, "the QR image loaded");
      const secret = await page.getByTestId("totp-secret").innerText();
      recordSecret(secret);
      assert.match(secret, /^[A-Z2-7]{32}$/);
      await recordPage(page, "security-enrol", violations);

      // A wrong first code: said, and the enrolment stays on screen.
      const first = page.getByLabel("First code from the app");
      await first.fill(wrongCodeOf(secret));
      await page.getByRole("button", { name: "Confirm" }).click();
      await problem(page).filter({ hasText: "Wrong code" }).waitFor();
      await first.fill(codeOf(secret));
      await page.getByRole("button", { name: "Confirm" }).click();

      // The recovery codes, once, and a step to say they are saved. The confirming code raised
      // this session, and the header says so.
      await page.getByRole("heading", { name: "Save your recovery codes" }).waitFor();
      await page.locator("#whoami", { hasText: "session (aal2)" }).waitFor();
      const codes = await page.getByTestId("recovery-codes").locator("li").allInnerTexts();
      recordSecret(...codes);
      assert.equal(codes.length, 10);
      for (const code of codes) assert.match(code, /^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/);
      await page.getByRole("button", { name: "Copy codes" }).click();
      await page.getByText("Copied.").waitFor();
      assert.equal(
        await page.evaluate<string>("navigator.clipboard.readText()"),
        codes.join("\n") + "\n",
      );
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("button", { name: "Download codes" }).click(),
      ]);
      assert.equal(
        (await Deno.readTextFile(await download.path())).trim().split("\n").join(","),
        codes.join(","),
      );
      const done = page.getByRole("button", { name: "Done" });
      assert.equal(await done.isDisabled(), true);
      await recordPage(page, "security-recovery-codes", violations);
      await page.getByLabel("I have saved these codes").check();
      await done.click();
      await page.getByRole("cell", { name: "Phone", exact: true }).waitFor();
      assert.equal(await page.getByRole("cell", { name: "confirmed", exact: true }).count(), 1);
      assert.equal(
        await page.getByTestId("recovery-left").innerText(),
        "Recovery codes left: 10 of 10.",
      );
      // Shown once: a reload shows neither the secret nor the codes.
      await page.reload();
      await page.getByRole("cell", { name: "Phone", exact: true }).waitFor();
      assert.equal(await page.getByTestId("totp-secret").count(), 0);
      assert.equal(await page.getByTestId("recovery-codes").count(), 0);

      // Rename.
      await page.getByRole("button", { name: "Rename Phone" }).click();
      await page.getByLabel("New name for Phone").fill("Work phone");
      await page.getByRole("button", { name: "Save" }).click();
      await page.getByRole("cell", { name: "Work phone", exact: true }).waitFor();
      await page.getByText('Renamed to "Work phone".').waitFor();
      await recordPage(page, "security-factors", violations);

      // The secret read from the page is the one the server checks: a new sign-in takes its code.
      await page.getByRole("button", { name: "Sign out" }).click();
      await signInWithPassword(page, account.email, account.password);
      await page.getByLabel("Code from your authenticator app").fill(codeOf(secret, 1));
      await page.getByRole("button", { name: "Verify and sign in" }).click();
      // Signed out from the Security page, signed in again onto it.
      await page.locator('#main[aria-busy="false"][data-view="#/security"]').waitFor();
      await page.getByRole("cell", { name: "Work phone", exact: true }).waitFor();
      assert.match(await page.locator("#whoami").innerText(), /session \(aal2\)/);

      // Remove: a confirmed factor is asked about once more, then goes. No code is asked for:
      // this session verified one just now (the step-up a stale one gets is tested below).
      await page.getByRole("button", { name: "Remove Work phone" }).click();
      await page.getByText("It is your last second factor: your recovery codes go").waitFor();
      await page.getByRole("button", { name: "Remove", exact: true }).click();
      await page.getByText('Removed "Work phone".').waitFor();
      await page.getByText("No second factor yet").waitFor();
      assert.equal(await page.getByTestId("recovery-left").count(), 0, "the codes went too");

      // An enrolment abandoned with Cancel leaves nothing behind.
      await page.getByRole("button", { name: "Add authenticator app" }).click();
      recordSecret(await page.getByTestId("totp-secret").innerText());
      await page.getByRole("button", { name: "Cancel" }).click();
      await page.getByText("No second factor yet").waitFor();

      // The wrong first code's 400, and nothing else.
      assert.deepEqual(refusedStatuses(errors), [400]);
      assert.deepEqual(foreignRequests, []);
    });
    const listed = await call("GET", "/auth/factors", { token: account.token });
    assert.deepEqual(listed.body.factors, []);
    assert.deepEqual(violations, {}, "axe-core: serious or critical violations");
  },
);

browserTest(
  "step-up: an action refused for want of a fresh factor asks for one and goes again",
  async () => {
    const account = await signUp("console-mfa-step-up");
    const violations: Record<string, string[]> = {};

    await withBrowser(async (browser) => {
      const { page, errors } = await openOwnConsole(browser);
      // The browser's session is aal1 from a password; the factor is enrolled meanwhile with
      // the sign-up session, so adding another is refused (403 step_up_required) from this one.
      await signInWithPassword(page, account.email, account.password);
      await overview(page);
      const factor = await enrolThroughApi(account);
      await openFromNav(page, "Security", "#/security");
      await page.getByRole("cell", { name: "Phone", exact: true }).waitFor();

      // Cancelled: the refusal is shown and nothing was made.
      await page.getByLabel("Name", { exact: true }).fill("Tablet");
      await page.getByRole("button", { name: "Add authenticator app" }).click();
      const dialog = page.getByRole("dialog", { name: "Confirm it is you" });
      await dialog.waitFor();
      await dialog.getByRole("button", { name: "Cancel" }).click();
      await notice(page).filter({ hasText: "second factor verified" }).waitFor();
      await dialog.waitFor({ state: "detached" });

      await page.getByRole("button", { name: "Add authenticator app" }).click();
      await dialog.waitFor();
      const code = dialog.getByLabel("Code from your authenticator app");
      assert.equal(await code.getAttribute("autocomplete"), "one-time-code");
      await recordPage(page, "step-up", violations);
      await code.fill(wrongCodeOf(factor.secret));
      await dialog.getByRole("button", { name: "Verify and continue" }).click();
      await dialog.locator(".form-problem").filter({ hasText: "Wrong code" }).waitFor();
      await code.fill(codeOf(factor.secret, 1));
      await dialog.getByRole("button", { name: "Verify and continue" }).click();
      // Verified with this session, and the enrolment sent again: its QR code is on screen.
      await page.getByRole("img", { name: /QR code/ }).waitFor();
      recordSecret(await page.getByTestId("totp-secret").innerText());
      await dialog.waitFor({ state: "detached" });
      // The header follows the session up, with no reload.
      await page.locator("#whoami", { hasText: "session (aal2)" }).waitFor();
      await page.reload();
      await page.getByRole("cell", { name: "Tablet", exact: true }).waitFor();
      assert.match(await page.locator("#whoami").innerText(), /session \(aal2\)/);

      // Two refusals of the enrolment (cancelled, then before the code), the wrong code's 400.
      assert.deepEqual(refusedStatuses(errors), [403, 403, 400]);
    });
    assert.deepEqual(violations, {}, "axe-core: serious or critical violations");
  },
);

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

browserTest(
  "removing a confirmed factor asks for a fresh second factor (step-up), not a code in the form",
  async () => {
    const account = await signUp("console-mfa-remove");
    const factor = await enrolThroughApi(account);
    const violations: Record<string, string[]> = {};

    await withBrowser(async (browser) => {
      const { page, errors, foreignRequests } = await openOwnConsole(browser);
      // Signed in with a recovery code, so the app's next code is free for the step-up.
      await signInWithPassword(page, account.email, account.password);
      await page.getByRole("button", { name: "Use a recovery code" }).click();
      await page.getByLabel("Recovery code").fill(factor.recoveryCodes[0]);
      await page.getByRole("button", { name: "Verify and sign in" }).click();
      await overview(page);
      // The sign-in's factor, as if verified 11 minutes ago: past the step-up window.
      await ageSecondFactor(await consoleSessionId(page), 11);
      await openFromNav(page, "Security", "#/security");

      await page.getByRole("button", { name: "Remove Phone" }).click();
      assert.equal(await page.getByLabel(/Code to remove/).count(), 0, "no code field");
      await page.getByText("It is your last second factor").waitFor();
      await recordPage(page, "security-remove", violations);
      await page.getByRole("button", { name: "Remove", exact: true }).click();
      const dialog = page.getByRole("dialog", { name: "Confirm it is you" });
      await dialog.waitFor();
      // Cancelled: the refusal is said, and the factor stays.
      await dialog.getByRole("button", { name: "Cancel" }).click();
      await notice(page).filter({ hasText: "second factor verified" }).waitFor();
      await dialog.waitFor({ state: "detached" });
      assert.equal(
        (await call("GET", "/auth/factors", { token: account.token })).body
          .factors.length,
        1,
      );

      await page.getByRole("button", { name: "Remove", exact: true }).click();
      await dialog.waitFor();
      await dialog.getByLabel("Code from your authenticator app").fill(codeOf(factor.secret, 1));
      await dialog.getByRole("button", { name: "Verify and continue" }).click();
      await page.getByText('Removed "Phone".').waitFor();
      await page.getByText("No second factor yet").waitFor();
      await page.locator("#whoami", { hasText: "session (aal2)" }).waitFor();

      // Two refusals of the removal: the cancelled step-up, and the one before the code.
      assert.deepEqual(refusedStatuses(errors), [403, 403]);
      assert.deepEqual(foreignRequests, []);
    });
    const listed = await call("GET", "/auth/factors", { token: account.token });
    assert.deepEqual(listed.body, { factors: [], recoveryCodesLeft: 0 });
    assert.deepEqual(violations, {}, "axe-core: serious or critical violations");
  },
);

browserTest(
  "passkeys: added on the Security page, then signed in with, stepped up with; a recovery code too",
  async () => {
    const account = await signUp("console-passkey");
    const violations: Record<string, string[]> = {};

    await withBrowser(async (browser) => {
      const { page, errors, foreignRequests } = await openOwnConsole(browser, {
        onLocalhost: true,
      });
      const authenticator = await addVirtualAuthenticator(page);
      await signInWithPassword(page, account.email, account.password);
      await overview(page);
      await openFromNav(page, "Security", "#/security");
      await page.getByText("No second factor yet").waitFor();

      // Made by the browser (the virtual authenticator), registered, confirmed at once: the
      // account's first factor, so its recovery codes come with it.
      await page.getByLabel("Passkey name").fill("Laptop");
      await page.getByRole("button", { name: "Add passkey" }).click();
      await page.getByRole("heading", { name: "Save your recovery codes" }).waitFor();
      await page.locator("#whoami", { hasText: "session (aal2)" }).waitFor();
      const codes = await page.getByTestId("recovery-codes").locator("li").allInnerTexts();
      recordSecret(...codes);
      assert.equal(codes.length, 10);
      const [made] = await authenticator.credentials();
      assert.equal(made.rpId, "localhost");
      assert.equal(made.isResidentCredential, true, "a discoverable credential, as preferred");
      await page.getByLabel("I have saved these codes").check();
      await page.getByRole("button", { name: "Done" }).click();
      await page.getByRole("cell", { name: "Laptop", exact: true }).waitFor();
      assert.equal(await page.getByRole("cell", { name: "passkey", exact: true }).count(), 1);
      assert.equal(await page.getByRole("cell", { name: "confirmed", exact: true }).count(), 1);
      await page.getByRole("button", { name: "Rename Laptop" }).click();
      await page.getByLabel("New name for Laptop").fill("Work laptop");
      await page.getByRole("button", { name: "Save" }).click();
      await page.getByRole("cell", { name: "Work laptop", exact: true }).waitFor();
      await recordPage(page, "security-passkey", violations);

      // A new sign-in: the password, then the passkey.
      await page.getByRole("button", { name: "Sign out" }).click();
      await signInWithPassword(page, account.email, account.password);
      await page.getByRole("heading", { name: "Second factor" }).waitFor();
      await page.getByText("Use a passkey, or use one of your recovery codes.").waitFor();
      const usePasskey = page.getByRole("button", { name: "Use a passkey" });
      assert.equal(
        await usePasskey.evaluate((button) => button === button.ownerDocument.activeElement),
        true,
        "with no app, the passkey has the focus (Enter uses it); the recovery code is the spare",
      );
      await recordPage(page, "sign-in-passkey", violations);
      await page.keyboard.press("Enter");
      await page.locator('#main[aria-busy="false"][data-view="#/security"]').waitFor();
      await page.getByRole("cell", { name: "Work laptop", exact: true }).waitFor();
      const sessionId = await consoleSessionId(page);
      const stored = await page.evaluate(() =>
        JSON.parse(sessionStorage.getItem("latchkey.console.credential") ?? "null")
      );
      const signedIn = await call("GET", "/auth/session", { token: stored.token });
      assert.deepEqual(
        signedIn.body.session.amr.map((entry: { method: string }) => entry.method),
        ["password", "webauthn"],
      );
      assert.equal((await authenticator.credentials())[0].signCount, 2, "used once more");

      // An authenticator app beside it (through the API, with this aal2 session).
      await enrolTotp({ ...account, token: stored.token }, "Phone");
      await page.reload();
      await page.getByRole("cell", { name: "Phone", exact: true }).waitFor();

      // Step-up with the passkey: removing the app, with the sign-in's factor 11 minutes old.
      await ageSecondFactor(sessionId, 11);
      await page.getByRole("button", { name: "Remove Phone" }).click();
      await page.getByRole("button", { name: "Remove", exact: true }).click();
      const dialog = page.getByRole("dialog", { name: "Confirm it is you" });
      await dialog.waitFor();
      await dialog.getByText(
        "Use the code your authenticator app shows, a passkey or one of your recovery codes.",
      ).waitFor();
      await recordPage(page, "step-up-passkey", violations);
      await dialog.getByRole("button", { name: "Use a passkey" }).click();
      await page.getByText('Removed "Phone".').waitFor();
      await dialog.waitFor({ state: "detached" });

      // Step-up with a recovery code: removing the passkey itself (no app left: the code field
      // is the dialog's first, the passkey a button beside it).
      await ageSecondFactor(sessionId, 11);
      await page.getByRole("button", { name: "Remove Work laptop" }).click();
      await page.getByText("It is your last second factor").waitFor();
      await page.getByRole("button", { name: "Remove", exact: true }).click();
      await dialog.waitFor();
      assert.equal(await dialog.getByLabel("Code from your authenticator app").count(), 0);
      const recovery = dialog.getByLabel("Recovery code");
      await recovery.fill("aaaa-bbbb-cccc-dddd");
      await dialog.getByRole("button", { name: "Verify and continue" }).click();
      await dialog.locator(".form-problem").filter({ hasText: "Wrong code" }).waitFor();
      await recovery.fill(codes[0]);
      await dialog.getByRole("button", { name: "Verify and continue" }).click();
      await page.getByText('Removed "Work laptop".').waitFor();
      await page.getByText("No second factor yet").waitFor();

      const amr = (await call("GET", "/auth/session", { token: stored.token })).body.session.amr;
      assert.deepEqual(
        amr.map((entry: { method: string }) => entry.method),
        // Each method once, at its last use: the passkey's step-up came after the app's code.
        ["password", "totp", "webauthn", "recovery_code"],
      );
      // Each removal refused once before its step-up; the wrong recovery code's 400.
      assert.deepEqual(refusedStatuses(errors), [403, 403, 400]);
      assert.deepEqual(foreignRequests, []);
    });
    assert.deepEqual(violations, {}, "axe-core: serious or critical violations");
  },
);

browserTest(
  "an admin without a second factor is taken to enrolment, offered an app or a passkey",
  async () => {
    // The server's own answer: a password-only admin session carries no permission.
    const admin = await createAccount("admin", "console-mfa-required", { secondFactor: false });
    const violations: Record<string, string[]> = {};

    await withBrowser(async (browser) => {
      const { page, errors } = await openOwnConsole(browser, { onLocalhost: true });
      const authenticator = await addVirtualAuthenticator(page);
      await signInWithPassword(page, admin.email, admin.password);
      await page.getByTestId("mfa-required").waitFor();
      await page.locator('#main[aria-busy="false"][data-view="#/security"]').waitFor();
      await notice(page).filter({ hasText: "add an authenticator app or a passkey" }).waitFor();
      // Only enrolment is offered until a factor is verified: both kinds.
      const links = await page.locator("#nav a").allInnerTexts();
      assert.deepEqual(links, ["Security"]);
      await page.getByRole("button", { name: "Add authenticator app" }).waitFor();
      await page.getByRole("button", { name: "Add passkey" }).waitFor();
      await page.goto(`${onLocalhost(consoleUrl)}#/users`);
      await page.locator('#main[aria-busy="false"][data-view="#/users"]').waitFor();
      assert.equal(await page.getByTestId("mfa-required").count(), 1);
      await recordPage(page, "mfa-required", violations);

      await page.getByLabel("Passkey name").fill("Laptop");
      await page.getByRole("button", { name: "Add passkey" }).click();
      recordSecret(
        ...await page.getByTestId("recovery-codes").locator("li").allInnerTexts(),
      );
      await page.getByLabel("I have saved these codes").check();
      await page.getByRole("button", { name: "Done" }).click();
      await overview(page);
      await page.getByText("Second factor added.").waitFor();
      assert.match(await page.locator("#whoami").innerText(), /session \(aal2\)/);
      assert.ok((await page.locator("#nav a").allInnerTexts()).includes("Users"));
      assert.equal((await authenticator.credentials()).length, 1);

      // No refusal on the way: the session said it awaits a factor before any page asked.
      assert.deepEqual(refusedStatuses(errors), []);
    });
    const listed = await call("GET", "/admin/users?limit=1", { token: admin.token });
    assert.equal(listed.status, 403, "the test's own session of the admin is still aal1");
    assert.equal(listed.body.error.nextRoute, "POST /auth/factors/:id/verify");
    assert.deepEqual(violations, {}, "axe-core: serious or critical violations");
  },
);
