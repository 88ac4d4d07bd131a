import assert from "node:assert/strict";
import { chromium } from "../support/browser.ts";
import { newSigningKey } from "../../functions/_local/jwt_keygen.ts";
import { recordSecret } from "../support/http.ts";
import { startTestServer } from "../support/server.ts";
import {
  chromiumPath,
  notice,
  openConsole,
  refusedStatuses,
  signInWithPassword,
} from "../support/console.ts";
import { createAuthUser, supabaseProject } from "../support/supabase_auth.ts";

/**
 * With LATCHKEY_IDENTITY=supabase the console signs people in through Supabase Auth's password
 * grant (with the project's anon key) and uses the access token it returns as the credential;
 * Latchkey's own sign-in is not offered. Needs the hosted-like cluster (auth.users) and chromium.
 */

Deno.test({
  name: "with Supabase Auth as identity, the console signs in through Supabase Auth",
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
      // The console cannot yet raise a Supabase Auth session to aal2 (supabase.auth.mfa), so
      // support, whose session this is, is left out of the roles that need a second factor here;
      // an aal1 Supabase session of such a role is refused in supabase_identity_test.ts.
      LATCHKEY_MFA_REQUIRED_ROLES: "admin",
      SUPABASE_URL: project.url,
      SUPABASE_ANON_KEY: anonKey,
      LATCHKEY_ADMIN_KEY: adminKey,
      LATCHKEY_JWT_SIGNING_KEYS: JSON.stringify({ keys: [await newSigningKey()] }),
      LATCHKEY_LOG_LEVEL: "warn",
    });
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

      await signInWithPassword(page, user.email!, password);
      await page.getByRole("heading", { name: "Overview" }).waitFor();
      assert.equal(await page.getByTestId("role").innerText(), "support");
      await page.getByRole("link", { name: "Users" }).click();
      await page.getByLabel("Search email or name").fill(user.email!);
      await page.getByRole("button", { name: "Find" }).click();
      await page.getByRole("link", { name: user.email! }).waitFor();
      // Supabase Auth's 400 for the wrong password, and nothing else.
      assert.deepEqual(refusedStatuses(errors), [400]);
      assert.deepEqual(foreignRequests, []);
    } finally {
      await browser.close();
      await gateway.stop();
      await project.close();
    }
  },
});
