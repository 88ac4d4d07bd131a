import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import { chromium, type Page } from "../support/browser.ts";
import { newSigningKey } from "../../functions/_local/jwt_keygen.ts";
import { recordSecret, totpCode } from "../support/http.ts";
import { startTestServer } from "../support/server.ts";
import {
  chromiumPath,
  notice,
  openConsole,
  openFromNav,
  recordPage,
  refusedStatuses,
  signInWithPassword,
} from "../support/console.ts";
import { createAuthUser, supabaseProject } from "../support/supabase_auth.ts";

/**
 * With LATCHKEY_IDENTITY=supabase the console signs people in through Supabase Auth's password
 * grant (with the project's anon key) and uses the access token it returns as the credential;
 * Latchkey's own sign-in is not offered. A role that needs a second factor (support, by
 * default) raises the session to aal2 through Supabase Auth's MFA API (enrolling TOTP the first
 * time), and a step-up is a code verified there again. Needs the hosted-like cluster
 * (auth.users) and chromium; every page is checked with axe-core.
 */

const credentialKey = "latchkey.console.credential";

/** Six digits no step Supabase Auth accepts now (this one and one either side) would take. */
function wrongCodeOf(secret: string): string {
  const valid = [-1, 0, 1, 2].map((offset) => totpCode(secret, offset));
  return ["123456", "654321", "111111"].find((code) => !valid.includes(code))!;
}

/** The claims of the access token the console holds now. */
async function heldClaims(page: Page): Promise<Record<string, unknown>> {
  const stored = await page.evaluate((key) => sessionStorage.getItem(key), credentialKey);
  const { kind, token } = JSON.parse(stored ?? "null");
  assert.equal(kind, "supabase");
  recordSecret(token);
  return decodeJwt(token);
}

Deno.test({
  name: "with Supabase Auth as identity, the console signs in, enrols TOTP and steps up there",
  ignore: !chromiumPath || !Deno.env.get("LATCHKEY_TEST_SUPERUSER_URL"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const anonKey = `anon-${crypto.randomUUID()}`;
    const adminKey = `console-identity-admin-key-${crypto.randomUUID()}`;
    const password = `supabase-${crypto.randomUUID()}`;
    recordSecret(adminKey, password);
    const project = await supabaseProject({ anonKey });
    const gateway = await startTestServer(Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!, {
      LATCHKEY_IDENTITY: "supabase",
      SUPABASE_URL: project.url,
      SUPABASE_ANON_KEY: anonKey,
      LATCHKEY_ADMIN_KEY: adminKey,
      LATCHKEY_JWT_SIGNING_KEYS: JSON.stringify({ keys: [await newSigningKey()] }),
      LATCHKEY_LOG_LEVEL: "warn",
    });
    const violations: Record<string, string[]> = {};
    const browser = await chromium.launch({ executablePath: chromiumPath });
    try {
      const api = `${gateway.baseUrl}/functions/v1`;
      // A Supabase Auth user, seen once by Latchkey, then made support by an operator.
      const user = await createAuthUser();
      project.withPassword(user, password);
      const firstSight = await fetch(`${api}/auth/session`, {
        headers: { authorization: `Bearer ${await project.token(user)}` },
      });
      assert.equal(firstSight.status, 200, await firstSight.text());
      const promoted = await fetch(`${api}/admin/users/${user.id}`, {
        method: "PATCH",
        headers: { "x-admin-key": adminKey, "content-type": "application/json" },
        body: JSON.stringify({ role: "support" }),
      });
      assert.equal(promoted.status, 200, await promoted.text());

      const config = await (await fetch(`${api}/console/config.json`)).json();
      assert.deepEqual(config, {
        apiUrl: "/functions/v1",
        identity: "supabase",
        supabaseUrl: project.url,
        supabaseAnonKey: anonKey,
      });

      const { page, errors, foreignRequests } = await openConsole(
        browser,
        `${api}/console/`,
        project.url,
      );
      await page.getByRole("heading", { name: "Supabase Auth account" }).waitFor();
      await signInWithPassword(page, user.email!, "not it");
      await notice(page).waitFor();
      assert.match(await notice(page).innerText(), /Invalid login credentials/);

      // Support needs a second factor, and has none yet: enrolment through Supabase Auth.
      await signInWithPassword(page, user.email!, password);
      await page.getByRole("heading", { name: "Add an authenticator app" }).waitFor();
      assert.match(await page.getByTestId("mfa-required").innerText(), /needs a second factor/);
      await recordPage(page, "supabase-mfa-required", violations);
      await page.getByLabel("Name", { exact: true }).fill("Phone");
      await page.getByRole("button", { name: "Add authenticator app" }).click();
      const qr = page.getByRole("img", { name: /QR code/ });
      await qr.waitFor();
      assert.match((await qr.getAttribute("src"))!, /^data:image\/svg\+xml,%3Csvg/);
      const secret = await page.getByTestId("totp-secret").innerText();
      recordSecret(secret);
      await recordPage(page, "supabase-enrol", violations);
      const first = page.getByLabel("First code from the app");
      await first.fill(wrongCodeOf(secret));
      await page.getByRole("button", { name: "Confirm" }).click();
      await page.locator(".form-problem").filter({ hasText: "Wrong code" }).waitFor();
      assert.equal(await first.inputValue(), "", "cleared for the next try");
      await first.fill(totpCode(secret));
      await page.getByRole("button", { name: "Confirm" }).click();

      await page.getByRole("heading", { name: "Overview" }).waitFor();
      assert.equal(await page.getByTestId("role").innerText(), "support");
      await page.locator("#whoami", { hasText: "session (aal2)" }).waitFor();
      const raised = await heldClaims(page);
      assert.equal(raised.aal, "aal2", "the console holds Supabase Auth's aal2 token");
      await page.getByRole("link", { name: "Users" }).click();
      await page.getByLabel("Search email or name").fill(user.email!);
      await page.getByRole("button", { name: "Find" }).click();
      await page.getByRole("link", { name: user.email! }).waitFor();

      // Signed in again (aal1), the account's factor is asked for straight away.
      await page.getByRole("button", { name: "Sign out" }).click();
      await signInWithPassword(page, user.email!, password);
      const code = page.getByLabel("Code from your authenticator app");
      await code.waitFor();
      await recordPage(page, "supabase-factor-code", violations);
      await code.fill(totpCode(secret));
      await page.getByRole("button", { name: "Verify and continue" }).click();
      // The page it was on (the users list) goes on with the aal2 token.
      await notice(page).filter({ hasText: "Second factor verified." }).waitFor();
      await page.getByRole("heading", { name: "Users" }).waitFor();
      await page.locator("#whoami", { hasText: "session (aal2)" }).waitFor();

      // Eleven minutes on (the session's totp aged in Supabase Auth, the token refreshed): the
      // export asks for a code again, Supabase Auth verifies it, and the export goes.
      const stale = await project.ageSecondFactor(user, 11);
      recordSecret(stale);
      await page.evaluate(
        ([key, token]) => sessionStorage.setItem(key, JSON.stringify({ kind: "supabase", token })),
        [credentialKey, stale],
      );
      await page.reload();
      await page.locator("#whoami", { hasText: "session (aal2)" }).waitFor();
      await openFromNav(page, "Audit log", "#/audit");
      const downloading = page.waitForEvent("download");
      await page.getByRole("button", { name: "Export NDJSON" }).click();
      const dialog = page.getByRole("dialog", { name: "Confirm it is you" });
      await dialog.waitFor();
      await recordPage(page, "supabase-step-up", violations);
      await dialog.getByLabel("Code from your authenticator app").fill(totpCode(secret));
      await dialog.getByRole("button", { name: "Verify and continue" }).click();
      const download = await downloading;
      await dialog.waitFor({ state: "detached" });
      const exported = (await Deno.readTextFile((await download.path())!)).trim().split("\n")
        .map((line) => JSON.parse(line));
      assert.ok(
        exported.some((row) => row.action === "admin.user_updated" && row.targetId === user.id),
        "the promotion is in the export",
      );
      const steppedUp = await heldClaims(page);
      const totpAt = (steppedUp.amr as { method: string; timestamp: number }[])
        .find((entry) => entry.method === "totp")!.timestamp;
      assert.ok(totpAt > Date.now() / 1000 - 60, "the token's totp is the one just verified");
      assert.equal(steppedUp.session_id, decodeJwt(stale).session_id, "the same session");

      // Supabase Auth's 400 for the wrong password and 422 for the wrong code; the export's
      // 403 step_up_required before the code.
      assert.deepEqual(refusedStatuses(errors), [400, 422, 403]);
      assert.deepEqual(foreignRequests, []);
    } finally {
      await browser.close();
      await gateway.stop();
      await project.close();
    }
    assert.deepEqual(violations, {}, "axe-core: serious or critical violations");
  },
});
