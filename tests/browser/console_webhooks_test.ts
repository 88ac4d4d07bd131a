import assert from "node:assert/strict";
import { chromium, chromiumPath } from "../support/browser.ts";
import { createAccount, issueKey, recordSecret, withDatabase } from "../support/http.ts";
import {
  notice,
  openConsole,
  openFromNav,
  recordPage,
  refusedStatuses,
  shown,
  signInWithFactor,
} from "../support/console.ts";
import { startTestServer } from "../support/server.ts";
import { startReceiver, untilDeliveries, verifyMessage } from "../support/webhooks.ts";

/**
 * The console's webhooks, in chromium against a receiver on 127.0.0.1 that verifies every
 * message with the `standardwebhooks` library: an admin registers an endpoint (the secret
 * shown once), sends test events from the list and from the delivery log, reads the log,
 * rotates the secret (both signatures verify during the overlap), disables, enables and
 * deletes it; a key with webhooks:read only is offered nothing but reading. Axe-clean, no
 * console error. A gateway of the test's own (on the suite's database and with its development
 * MFA key) allows 127.0.0.1 as a destination; the suite's gateway is not called once an
 * endpoint exists, so it never sweeps this endpoint's messages.
 */
Deno.test({
  name: "admin flow: register a webhook, send test events, read deliveries, rotate, delete",
  ignore: !chromiumPath,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const admin = await createAccount("admin", "console-webhooks");
    const reader = await issueKey(admin.id, { name: "hooks-reader", scopes: ["webhooks:read"] });
    recordSecret(reader.key);
    const receiver = startReceiver();
    const gateway = await startTestServer(Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!, {
      LATCHKEY_DATA_DIR: Deno.env.get("LATCHKEY_TEST_DATA_DIR")!,
      LATCHKEY_WEBHOOK_ALLOW_ADDRESSES: "127.0.0.1",
      LATCHKEY_LOG_LEVEL: "warn",
    });
    const consoleUrl = `${gateway.baseUrl}/functions/v1/console/`;
    const url = `http://127.0.0.1:${receiver.port}/hooks`;
    const violations: Record<string, string[]> = {};
    const browser = await chromium.launch({ executablePath: chromiumPath });
    try {
      const { page, errors, foreignRequests } = await openConsole(
        browser,
        consoleUrl,
        gateway.baseUrl,
      );
      await signInWithFactor(page, admin);
      await page.getByRole("heading", { name: "Overview" }).waitFor();
      await openFromNav(page, "Webhooks", "#/webhooks");

      const form = page.locator("form", {
        has: page.getByRole("heading", { name: "Register an endpoint" }),
      });
      await form.getByLabel("URL").fill(url);
      await form.getByLabel("Events").fill("admin.user_created");
      await form.getByLabel("Description").fill("console receiver");
      await form.getByRole("button", { name: "Register endpoint" }).click();
      const secretShown = page.getByTestId("webhook-secret");
      await secretShown.waitFor();
      const secret = await secretShown.innerText();
      recordSecret(secret);
      assert.match(secret, /^whsec_/);
      await page.getByRole("button", { name: "Copy secret" }).click();
      await page.getByText("Copied.").waitFor();
      assert.equal(await page.evaluate<string>("navigator.clipboard.readText()"), secret);
      const row = page.locator("tbody tr", { hasText: url });
      assert.equal(await row.count(), 1);
      await recordPage(page, "webhooks", violations);

      // A test event from the list: it reaches the receiver, signed with that secret.
      await page.getByRole("button", { name: `Send test to ${url}` }).click();
      await notice(page).filter({ hasText: `Test event queued for ${url}.` }).waitFor();
      const first = await receiver.waitFor((m) => JSON.parse(m.body).type === "webhook.test");
      assert.equal(verifyMessage(secret, first).type, "webhook.test");

      // The delivery log: delivered, 200, a latency; another test event from there.
      await row.getByRole("link", { name: url }).click();
      const endpointId = new URL(page.url()).hash.split("/").pop()!;
      await shown(page, `#/webhooks/${endpointId}`);
      await untilDeliveries(endpointId, (rows) => rows[0]?.delivered_at !== null);
      await page.getByRole("button", { name: "Send test event" }).click();
      await notice(page).filter({ hasText: "Test event queued." }).waitFor();
      await receiver.waitFor((m) => m.id !== first.id);
      await untilDeliveries(endpointId, (rows) => rows.every((r) => r.delivered_at !== null));
      await page.getByRole("button", { name: "Refresh" }).click();
      await notice(page).filter({ hasText: "Refreshed." }).waitFor();
      const deliveries = page.locator("tbody tr");
      assert.equal(await deliveries.count(), 2);
      for (const text of await deliveries.allInnerTexts()) {
        assert.match(text, /webhook\.test\s+delivered\s+1\s+200: ok\s+\d+ ms/);
      }
      assert.equal(await page.getByText(first.id).count(), 1, "the webhook-id is shown");
      await recordPage(page, "webhook-deliveries", violations);

      // Rotation with an overlap: the next test event verifies with either secret.
      await page.getByRole("link", { name: "← Webhooks" }).click();
      await shown(page, "#/webhooks");
      await page.getByRole("button", { name: `Rotate secret of ${url}` }).click();
      await page.getByLabel(`Old secret of ${url} signs for`).selectOption("3600");
      await page.getByRole("button", { name: `Rotate secret of ${url} now` }).click();
      await page.getByTestId("webhook-secret").filter({ hasNotText: secret }).waitFor();
      const rotated = await page.getByTestId("webhook-secret").innerText();
      recordSecret(rotated);
      await page.locator("tbody tr", { hasText: url }).getByText("old secret signs until")
        .waitFor();
      await page.getByRole("button", { name: `Send test to ${url}` }).click();
      await notice(page).filter({ hasText: `Test event queued for ${url}.` }).waitFor();
      const third = await receiver.waitFor((m) => m.signature.includes(" "));
      assert.equal(verifyMessage(rotated, third).type, "webhook.test");
      assert.equal(verifyMessage(secret, third).type, "webhook.test");

      // Disabled: no test offered; enabled again (after the step-up a fresh sign-in covers).
      await page.getByRole("button", { name: `Disable ${url}` }).click();
      await notice(page).filter({ hasText: `Disabled ${url}.` }).waitFor();
      assert.equal(
        await page.getByRole("button", { name: `Send test to ${url}` }).count(),
        0,
      );
      await page.getByRole("button", { name: `Enable ${url}` }).click();
      await notice(page).filter({ hasText: `Enabled ${url}.` }).waitFor();

      // webhooks:read only: the list and the log, nothing to change or send.
      const readOnly = await openConsole(browser, consoleUrl, gateway.baseUrl);
      await readOnly.page.getByLabel("Admin-scoped API key").fill(reader.key);
      await readOnly.page.getByRole("button", { name: "Use key" }).click();
      await readOnly.page.getByRole("heading", { name: "Overview" }).waitFor();
      assert.deepEqual(
        await readOnly.page.locator("#nav a").allInnerTexts(),
        ["Overview", "Webhooks"],
      );
      await openFromNav(readOnly.page, "Webhooks", "#/webhooks");
      await readOnly.page.getByRole("link", { name: url }).click();
      await shown(readOnly.page, `#/webhooks/${endpointId}`);
      assert.equal(await readOnly.page.locator("tbody tr").count(), 3);
      assert.equal(await readOnly.page.getByRole("button", { name: /test|Retry/ }).count(), 0);
      await readOnly.page.getByRole("link", { name: "← Webhooks" }).click();
      await shown(readOnly.page, "#/webhooks");
      assert.equal(
        await readOnly.page.getByRole("button").filter({ hasText: /Disable|Delete|Rotate|Send/ })
          .count(),
        0,
      );
      assert.equal(
        await readOnly.page.getByRole("heading", { name: "Register an endpoint" }).count(),
        0,
      );
      await recordPage(readOnly.page, "webhooks-read-only", violations);
      assert.deepEqual(readOnly.errors, []);
      await readOnly.context.close();

      // Deleted (the confirmation accepted): gone from the list and the database.
      await page.getByRole("button", { name: `Delete ${url}` }).click();
      await notice(page).filter({ hasText: `Deleted ${url}.` }).waitFor();
      assert.equal(await page.locator("tbody tr", { hasText: url }).count(), 0);
      const left = await withDatabase((sql) =>
        sql`select id from latchkey.webhook_endpoints where id = ${endpointId}
            union all select id from latchkey.webhook_deliveries where endpoint_id = ${endpointId}`
      );
      assert.equal(left.length, 0, "the endpoint and its messages");

      assert.deepEqual(refusedStatuses(errors), []);
      assert.deepEqual(foreignRequests, []);
    } finally {
      await browser.close();
      await gateway.stop();
      await receiver.close();
      // Left behind by a failure, it would be swept by the suite's gateway later.
      await withDatabase((sql) => sql`delete from latchkey.webhook_endpoints where url = ${url}`);
    }
    assert.deepEqual(violations, {}, "axe-core: serious or critical violations");
  },
});
