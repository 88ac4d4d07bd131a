// deno-lint-ignore no-import-prefix -- test-only, so not in deno.json (docs/testing.md, lockfiles)
import type { Page } from "npm:playwright-core@1.65.1";

// The one place the browser tests take playwright-core from, so its version is written twice,
// both here.
export { type Browser, type BrowserContext, chromium, type Page } from "npm:playwright-core@1.65.1";

/** Debian's chromium for the browser tests, from the test command; unset: they are ignored. */
export const chromiumPath = Deno.env.get("LATCHKEY_TEST_CHROMIUM");

/** Where the browser tests save their screenshots (the README shows copies of some). */
export const screenshotDirectory = Deno.env.get("LATCHKEY_TEST_SCREENSHOTS") ??
  new URL("../../.latchkey/screenshots", import.meta.url).pathname;

/** What a page did that it should not: requests elsewhere, console errors, exceptions. */
export interface PageWatch {
  /** Requests to an origin not in `origins` (data: and blob: URLs aside). */
  foreignRequests: string[];
  /** Console errors (a CSP violation is one) and uncaught exceptions. */
  errors: string[];
}

/** Starts recording on `page`; console errors matching `ignore` are left out. */
export function watchPage(page: Page, origins: string[], ignore?: RegExp): PageWatch {
  const watch: PageWatch = { foreignRequests: [], errors: [] };
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (!["data:", "blob:"].includes(url.protocol) && !origins.includes(url.origin)) {
      watch.foreignRequests.push(request.url());
    }
  });
  page.on("console", (message) => {
    if (message.type() === "error" && !ignore?.test(message.text())) {
      watch.errors.push(message.text());
    }
  });
  page.on("pageerror", (error) => watch.errors.push(error.message));
  return watch;
}
