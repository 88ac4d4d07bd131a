import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- test-only, so not in deno.json (docs/testing.md, lockfiles)
import axe from "npm:axe-core@4.14.1";
import {
  type Browser,
  type BrowserContext,
  chromium,
  chromiumPath,
  type Page,
  type PageWatch,
  screenshotDirectory,
  watchPage,
} from "./browser.ts";
import { type TestAccount, totpCode } from "./http.ts";

/** Driving the Latchkey Console in chromium: one page, its errors, its checks. */

export { chromiumPath };

export interface ConsolePage extends PageWatch {
  context: BrowserContext;
  page: Page;
}

/** A fresh browser context (its own sessionStorage) on the console at `url`. */
export async function openConsole(
  browser: Browser,
  url: string,
  apiOrigin: string,
): Promise<ConsolePage> {
  const origin = new URL(url).origin;
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
  const page = await context.newPage();
  // Every console error counts, a refused request's too: a test expecting one says which
  // (refusedStatuses).
  const opened: ConsolePage = { context, page, ...watchPage(page, [origin, apiOrigin]) };
  page.on("dialog", (dialog) => dialog.accept());
  const response = await page.goto(url);
  assert.equal(response?.status(), 200);
  return opened;
}

/**
 * The console errors as the statuses of the refused requests that logged them, in order; any
 * other error stays whole, so `assert.deepEqual(refusedStatuses(errors), [401])` fails on it.
 */
export function refusedStatuses(errors: string[]): (number | string)[] {
  return errors.map((error) => {
    const status = error.match(
      /^Failed to load resource: the server responded with a status of (\d{3})\b/,
    )
      ?.[1];
    return status ? Number(status) : error;
  });
}

export async function signInWithPassword(page: Page, email: string, password: string) {
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/**
 * Signs `account` in as a person would: the password, then, for an account with a TOTP factor
 * (createAccount enrols one for support and admin), the code its app shows. The next step's
 * code: enrolment took this step's, and a code is taken once.
 */
export async function signInWithFactor(page: Page, account: TestAccount) {
  await signInWithPassword(page, account.email, account.password);
  if (!account.totp) return;
  await page.getByLabel("Code from your authenticator app").fill(totpCode(account.totp.secret, 1));
  await page.getByRole("button", { name: "Verify and sign in" }).click();
}

/**
 * `url` (the suite's gateway, on 127.0.0.1) on `localhost` instead: WebAuthn takes no IP address
 * as the relying party, and in development and test the API takes the host it is called on.
 */
export function onLocalhost(url: string): string {
  const local = new URL(url);
  local.hostname = "localhost";
  return local.href;
}

export interface VirtualAuthenticator {
  /** The passkeys the authenticator holds now (Chrome DevTools Protocol's view). */
  credentials(): Promise<{ rpId?: string; isResidentCredential: boolean; signCount: number }[]>;
}

/**
 * A platform authenticator with user verification, in chromium itself (the DevTools Protocol's
 * WebAuthn domain): `navigator.credentials` on `page` makes and uses real passkeys with it, the
 * user's presence and fingerprint always given.
 */
export async function addVirtualAuthenticator(page: Page): Promise<VirtualAuthenticator> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
    },
  });
  return {
    async credentials() {
      const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
      return credentials;
    },
  };
}

/** Waits until the console has drawn the page whose hash contains `hashPart`. */
export async function shown(page: Page, hashPart: string) {
  await page.locator(`#main[aria-busy="false"][data-view*="${hashPart}"]`).waitFor();
}

/**
 * Follows a nav link and waits until its page is drawn: until then the page before it, which
 * may have the same form, is still on screen and would take the next click.
 */
export async function openFromNav(page: Page, name: string, hash: string) {
  await page.getByRole("link", { name }).click();
  await page.locator(`#main[aria-busy="false"][data-view="${hash}"]`).waitFor();
}

/** The notice the console shows (an API error's message and request id, or a success). */
export function notice(page: Page) {
  return page.locator("#notice .notice");
}

/** Saves a screenshot of the whole page as `console-<name>.png`. */
export async function screenshot(page: Page, name: string) {
  await Deno.mkdir(screenshotDirectory, { recursive: true });
  await page.screenshot({ path: `${screenshotDirectory}/console-${name}.png`, fullPage: true });
}

/**
 * axe-core's WCAG 2.x A/AA rules on the page as it is now; returns serious and critical
 * violations. The script is evaluated by the driver, not injected as a tag, so the page's
 * policy (no inline script) stays as users get it.
 */
export async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(axe.source);
  const violations = await page.evaluate<{ id: string; impact: string; targets: string[] }[]>(`
    axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    }).then((result) => result.violations.map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      targets: violation.nodes.map((node) => node.target.join(" ")),
    })))`);
  return violations
    .filter((violation) => ["serious", "critical"].includes(violation.impact))
    .map((violation) => `${violation.id}: ${violation.targets.join(", ")}`);
}

/** Screenshot and accessibility check of the page as it stands, under `name`. */
export async function recordPage(page: Page, name: string, violations: Record<string, string[]>) {
  await screenshot(page, name);
  const found = await seriousViolations(page);
  if (found.length > 0) violations[name] = found;
}

/** `curl` (the real one) against the API: what a person checking a key from a shell sees. */
export async function curlJson(url: string, body: unknown): Promise<Record<string, unknown>> {
  const output = await new Deno.Command("curl", {
    args: [
      "--silent",
      "--show-error",
      "--max-time",
      "10",
      "-H",
      "content-type: application/json",
      "--data",
      JSON.stringify(body),
      url,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

/** A browser for the length of `work`, closed whatever happens. */
export async function withBrowser(work: (browser: Browser) => Promise<void>) {
  const browser = await chromium.launch({ executablePath: chromiumPath });
  try {
    await work(browser);
  } finally {
    await browser.close();
  }
}

/** A browser test: ignored without chromium (the test command counts it as skipped). */
export const browserTest = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, ignore: !chromiumPath, sanitizeResources: false, sanitizeOps: false, fn });
