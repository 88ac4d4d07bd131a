import assert from "node:assert/strict";
import { chromium } from "../support/browser.ts";
import { buildConsole } from "../../functions/_local/console_site.ts";
import { createAccount, functionsUrl } from "../support/http.ts";
import { freePort, startTestServer } from "../support/server.ts";
import { serveFolder } from "../support/static_host.ts";
import {
  chromiumPath,
  openConsole,
  signInWithFactor,
  signInWithPassword,
} from "../support/console.ts";

/**
 * `deno task console:build`: the console as a folder, served by a plain static host on its
 * own origin (not the gateway), signs in and works against a gateway that lists that origin in
 * LATCHKEY_CORS_ORIGINS — and gets nothing from a gateway that does not.
 */

Deno.test("the built console: relative files, the policy in a meta tag, the API's URL in config.json", async () => {
  const folder = await Deno.makeTempDir({ prefix: "latchkey-console-" });
  try {
    const written = await buildConsole(folder, {
      apiUrl: "https://abc.supabase.co/functions/v1",
      identity: "latchkey",
    });
    assert.ok(written.includes("index.html") && written.includes("config.json"));
    assert.ok(written.includes("src/main.js") && written.includes("style.css"));
    const page = await Deno.readTextFile(`${folder}/index.html`);
    assert.match(
      page,
      /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'self'; style-src 'self';[^"]*connect-src 'self' https:\/\/abc\.supabase\.co;/,
    );
    assert.doesNotMatch(page, /frame-ancestors/, "header-only; a meta tag would log an error");
    assert.doesNotMatch(page, /(src|href)="\//, "relative links only");
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${folder}/config.json`)), {
      apiUrl: "https://abc.supabase.co/functions/v1",
      identity: "latchkey",
    });
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test({
  name: "the built console on a static host works against the gateway's API through CORS",
  ignore: !chromiumPath,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const admin = await createAccount("admin", "static-console");
    const port = freePort();
    const origin = `http://127.0.0.1:${port}`;
    const gateway = await startTestServer(Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!, {
      LATCHKEY_CORS_ORIGINS: origin,
      // The suite's gateway's development MFA key: the admin's TOTP secret is encrypted with it.
      LATCHKEY_DATA_DIR: Deno.env.get("LATCHKEY_TEST_DATA_DIR")!,
      LATCHKEY_LOG_LEVEL: "warn",
    });
    const apiUrl = `${gateway.baseUrl}/functions/v1`;
    const folder = await Deno.makeTempDir({ prefix: "latchkey-console-" });
    await buildConsole(folder, { apiUrl, identity: "latchkey" });
    const host = serveFolder(folder, port);
    const browser = await chromium.launch({ executablePath: chromiumPath });
    try {
      const { page, errors, foreignRequests } = await openConsole(
        browser,
        `${origin}/`,
        new URL(apiUrl).origin,
      );
      await signInWithFactor(page, admin);
      await page.getByRole("heading", { name: "Overview" }).waitFor();
      await page.getByRole("link", { name: "Users" }).click();
      await page.getByRole("link", { name: admin.email }).waitFor();
      assert.deepEqual(errors, []);
      assert.deepEqual(foreignRequests, []);

      // The suite's own gateway does not list this origin: the browser refuses the answer,
      // and the console says where to look.
      const elsewhere = Deno.makeTempDirSync({ prefix: "latchkey-console-" });
      await buildConsole(elsewhere, { apiUrl: functionsUrl, identity: "latchkey" });
      await Deno.remove(`${folder}`, { recursive: true });
      await Deno.rename(elsewhere, folder);
      const other = await openConsole(browser, `${origin}/`, new URL(functionsUrl).origin);
      await signInWithPassword(other.page, admin.email, admin.password);
      await other.page.locator("#notice .notice").waitFor();
      assert.match(
        await other.page.locator("#notice .notice").innerText(),
        /LATCHKEY_CORS_ORIGINS/,
      );
    } finally {
      await browser.close();
      await host.shutdown();
      await gateway.stop();
      await Deno.remove(folder, { recursive: true }).catch(() => {});
    }
  },
});
