import assert from "node:assert/strict";
import { chromium } from "../support/browser.ts";
import { buildApiReference } from "../../build/static_docs.ts";
import { functionsUrl } from "../support/http.ts";
import { serveFolder } from "../support/static_host.ts";
import { chromiumPath, watchPage } from "../support/browser.ts";

/**
 * `deno task docs:build`: the API reference as static files, served by a plain static file
 * server (not the gateway), works in a real browser on its own: every operation shown, no
 * request to any other origin, no console error (a CSP violation would be one).
 */

Deno.test("the built reference lists the same operations as the running API's document", async () => {
  const folder = await Deno.makeTempDir({ prefix: "latchkey-docs-" });
  try {
    const written = await buildApiReference(folder, functionsUrl);
    assert.deepEqual(written, [
      "favicon.png",
      "index.html",
      "openapi.json",
      "start.js",
      "swagger-ui-bundle.js",
      "swagger-ui.css",
    ]);
    const built = JSON.parse(await Deno.readTextFile(`${folder}/openapi.json`));
    const served = await (await fetch(`${functionsUrl}/openapi.json`)).json();
    assert.deepEqual(built.paths, served.paths);
    assert.deepEqual(built.servers, [{ url: functionsUrl }]);
    const page = await Deno.readTextFile(`${folder}/index.html`);
    assert.doesNotMatch(page, /<script>|<script [^>]*>[^<]/, "no inline script");
    assert.doesNotMatch(page, /(src|href)="\//, "relative links only");
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test({
  name: "the built reference works from a plain static host, with nothing from elsewhere",
  ignore: !chromiumPath,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const folder = await Deno.makeTempDir({ prefix: "latchkey-docs-" });
    await buildApiReference(folder, functionsUrl);
    const host = serveFolder(folder);
    const origin = `http://127.0.0.1:${host.addr.port}`;
    const browser = await chromium.launch({ executablePath: chromiumPath });
    try {
      const page = await browser.newPage();
      const { foreignRequests: foreign, errors } = watchPage(page, [origin]);
      const response = await page.goto(`${origin}/`);
      assert.equal(response?.status(), 200);
      await page.locator(".opblock").first().waitFor({ timeout: 15_000 });
      const spec = JSON.parse(await Deno.readTextFile(`${folder}/openapi.json`));
      const operations = Object.values(spec.paths).flatMap((item) => Object.keys(item as object));
      assert.equal(await page.locator(".opblock").count(), operations.length);
      assert.deepEqual(foreign, []);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await host.shutdown();
      await Deno.remove(folder, { recursive: true });
    }
  },
});
