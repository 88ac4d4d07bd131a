import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "../support/browser.ts";
import { baseUrl, call, functionsUrl, signUp } from "../support/http.ts";
import {
  chromiumPath,
  type PageWatch,
  screenshotDirectory,
  watchPage,
} from "../support/browser.ts";

/**
 * The API reference page in a real browser (Debian's chromium, driven by playwright-core).
 * `deno task test` installs chromium when it can and says loudly when it could not; then this
 * file is ignored, never counted as passed.
 */

interface OpenedPage extends PageWatch {
  page: Page;
}

async function openReference(browser: Browser): Promise<OpenedPage> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const opened: OpenedPage = { page, ...watchPage(page, [baseUrl]) };
  const response = await page.goto(`${functionsUrl}/docs`);
  assert.equal(response?.status(), 200);
  await page.locator(".opblock").first().waitFor({ timeout: 15_000 });
  return opened;
}

/** Expands one operation and presses "Try it out"; returns its block. */
async function tryOperation(page: Page, method: string, path: string) {
  const block = page.locator(`.opblock-${method}`).filter({
    has: page.locator(".opblock-summary-path", { hasText: new RegExp(`^${path}$`) }),
  });
  await block.locator(".opblock-summary").click();
  await block.getByRole("button", { name: "Try it out" }).click();
  return block;
}

/**
 * Presses "Execute" and returns the status the page then shows. A block executed before still
 * shows its previous answer until the new one renders, so this waits for the request's own
 * response and then for the page to show it.
 */
async function executedStatus(block: ReturnType<Page["locator"]>): Promise<string> {
  const page = block.page();
  const responded = page.waitForResponse((response) =>
    response.request().resourceType() === "fetch" && response.url().includes("/functions/v1/")
  );
  await block.getByRole("button", { name: "Execute" }).click();
  const expected = String((await responded).status());
  const status = block.locator(".live-responses-table tr.response .response-col_status").first();
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const shown = await status.textContent({ timeout: 10_000 }).catch(() => null);
    if (shown?.trim() === expected) return expected;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return (await status.textContent())?.trim() ?? "";
}

Deno.test({
  name: "the API reference page shows every route group and operation, served from here alone",
  ignore: !chromiumPath,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const spec = (await call("GET", "/openapi.json")).body;
    const browser = await chromium.launch({ executablePath: chromiumPath });
    try {
      const { page, foreignRequests, errors } = await openReference(browser);
      const groups = await page.locator("h3.opblock-tag").evaluateAll((headings) =>
        headings.map((heading) => [heading.getAttribute("data-tag"), heading.textContent])
      );
      assert.deepEqual(
        groups.map(([name]) => name),
        spec.tags.map((tag: { name: string }) => tag.name),
      );
      for (const [index, tag] of spec.tags.entries()) {
        const shownText = groups[index][1]?.replace(/\s+/g, " ") ?? "";
        assert.ok(shownText.includes(tag.description.replace(/`/g, "")), tag.name);
      }
      const shown = (await page.locator(".opblock").evaluateAll((blocks) =>
        blocks.map((block) =>
          `${block.querySelector(".opblock-summary-method")?.textContent} ${
            block.querySelector(".opblock-summary-path")?.getAttribute("data-path")
          }`
        )
      )).sort();
      const specified = Object.entries(spec.paths).flatMap(([path, item]) =>
        Object.keys(item as object).map((method) =>
          `${method.toUpperCase()} ${path}`
        )
      ).sort();
      assert.deepEqual(shown, specified);

      await Deno.mkdir(screenshotDirectory, { recursive: true });
      const screenshotPath = `${screenshotDirectory}/api-reference.png`;
      const png = await page.screenshot({ path: screenshotPath, fullPage: true });
      assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
      assert.ok(png.length > 50_000, `a full-page screenshot, not a blank one (${png.length} B)`);
      console.log(`screenshot: ${screenshotPath}`);

      assert.deepEqual(foreignRequests, [], "the page loads nothing from another origin");
      assert.deepEqual(errors, [], "no console errors, CSP violations or exceptions");
    } finally {
      await browser.close();
    }
  },
});

Deno.test({
  name: "a person can try the calls from the reference page, with and without a credential",
  ignore: !chromiumPath,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const account = await signUp("docs-page");
    const browser = await chromium.launch({ executablePath: chromiumPath });
    try {
      const { page, errors } = await openReference(browser);

      const version = await tryOperation(page, "get", "/version");
      assert.equal(await executedStatus(version), "200");
      assert.match(await version.locator(".live-responses-table").textContent() ?? "", /"version"/);

      // Without authorizing, the protected call is refused with the envelope...
      const session = await tryOperation(page, "get", "/auth/session");
      assert.equal(await executedStatus(session), "401");

      // ...and after "Authorize" with a session token it answers as that account.
      await page.getByRole("button", { name: /^Authorize/ }).first().click();
      const dialog = page.locator(".dialog-ux");
      const sessionScheme = dialog.locator(".auth-container").filter({
        has: page.locator("h4 code", { hasText: /^session$/ }),
      });
      await sessionScheme.locator("input").fill(account.token);
      await sessionScheme.getByRole("button", { name: "Apply credentials" }).click();
      await sessionScheme.getByRole("button", { name: "Close" }).click();
      assert.equal(await executedStatus(session), "200");
      assert.match(
        await session.locator(".live-responses-table").textContent() ?? "",
        new RegExp(account.email.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")),
      );
      assert.deepEqual(errors.filter((error) => !/status of 401/.test(error)), []);
    } finally {
      await browser.close();
    }
  },
});
