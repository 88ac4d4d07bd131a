import assert from "node:assert/strict";
import { chromium, chromiumPath } from "../support/browser.ts";
import {
  asAdminKey,
  createAccount,
  uniqueEmail,
  verifyKey,
  withDatabase,
} from "../support/http.ts";
import { addMember, insertOrg } from "../support/orgs.ts";
import {
  notice,
  openConsole,
  openFromNav,
  recordPage,
  refusedStatuses,
  shown,
  signInWithFactor,
} from "../support/console.ts";
import { withMailGateway } from "../support/smtp.ts";

/**
 * The console's organizations and roles, in chromium, as one admin: creates an organization
 * (owner), invites someone by email (the mail reaches a real SMTP server), sees the open
 * invitation and revokes it; creates one of its keys (the secret shown once; it verifies with
 * the organization's id) and revokes it, and is offered no keys where they are a plain member;
 * finds the organization in the staff's list (its keys read-only) and suspends it; on the
 * Roles page registers a team permission and creates a platform role holding it, which the
 * users page's role filter then offers; deletes both again. Axe-clean, no console error. A
 * gateway of the test's own mails through the test SMTP server (on the suite's database and with
 * its development MFA key).
 */
Deno.test({
  name: "organizations, the staff's list and runtime roles in the console",
  ignore: !chromiumPath,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const admin = await createAccount("admin", "console-orgs");
    const tag = crypto.randomUUID().slice(0, 8);
    const orgName = `Console org ${tag}`;
    const invitee = uniqueEmail("console-invitee");
    const permission = `notes-${tag}:read`;
    const role = `auditor-${tag}`;
    const violations: Record<string, string[]> = {};
    try {
      await withMailGateway(async (functions, smtp) => {
        const browser = await chromium.launch({ executablePath: chromiumPath });
        try {
          const { page, errors, foreignRequests } = await openConsole(
            browser,
            `${functions.base}/console/`,
            new URL(functions.base).origin,
          );
          await signInWithFactor(page, admin);
          await page.getByRole("heading", { name: "Overview" }).waitFor();

          // My organizations: create one, then its page (owner).
          await page.getByRole("link", { name: "Organizations", exact: true }).click();
          await shown(page, "#/orgs");
          await recordPage(page, "orgs", violations);
          const create = page.locator("form", {
            has: page.getByRole("heading", { name: "Create an organization" }),
          });
          await create.getByLabel("Name").fill(orgName);
          await create.getByRole("button", { name: "Create organization" }).click();
          await notice(page).filter({ hasText: `Created ${orgName}.` }).waitFor();
          await page.getByRole("heading", { name: orgName }).waitFor();
          const orgId = new URL(page.url()).hash.split("/").pop()!;
          assert.match(
            await page.locator("tbody tr", { hasText: admin.email }).innerText(),
            /owner/,
          );

          // An invitation: mailed, listed, revoked.
          const invite = page.locator("form", {
            has: page.getByRole("heading", { name: "Invite by email" }),
          });
          await invite.getByLabel("Email").fill(invitee);
          await invite.getByLabel("Role").selectOption("admin");
          await invite.getByRole("button", { name: "Send invitation" }).click();
          await notice(page).filter({ hasText: "Invitation sent." }).waitFor();
          const invitation = page.locator("tbody tr", { hasText: invitee });
          assert.match(await invitation.innerText(), /admin/);
          await smtp.waitFor(invitee, "An invitation to an organization");
          await recordPage(page, "org", violations);
          await page.getByRole("button", { name: `Revoke invitation of ${invitee}` }).click();
          await notice(page).filter({ hasText: `Revoked the invitation of ${invitee}.` })
            .waitFor();
          await page.getByText("No open invitations.").waitFor();

          // Its keys: one created with a scope the organization grants, its secret shown once.
          const keys = page.locator("section", {
            has: page.getByRole("heading", { name: "Keys", exact: true }),
          });
          const createKey = keys.getByRole("form", { name: "Create an API key" });
          await createKey.getByLabel("Name").fill("integration");
          await createKey.getByLabel("compile", { exact: true }).check();
          await createKey.getByRole("button", { name: "Create key" }).click();
          const secret = await page.getByTestId("new-key").innerText();
          const verified = await verifyKey(secret, "compile");
          assert.deepEqual(
            [verified.body.code, verified.body.orgId, verified.body.scopes],
            ["VALID", orgId, ["compile"]],
          );
          await recordPage(page, "org-keys", violations);
          await page.reload();
          await shown(page, `#/orgs/${orgId}`);
          const keyRow = keys.getByRole("table", { name: "API keys" })
            .locator("tbody tr", { hasText: "integration" });
          assert.match(await keyRow.innerText(), new RegExp(`${admin.email}.*compile`, "s"));
          assert.equal(await page.getByTestId("new-key").count(), 0, "shown once");
          assert.ok(!(await page.content()).includes(secret));
          await page.getByRole("button", { name: "Revoke key integration" }).click();
          await notice(page).filter({ hasText: 'Revoked "integration".' }).waitFor();
          assert.match(await keyRow.innerText(), /revoked/);
          assert.equal((await verifyKey(secret)).body.code, "REVOKED");

          // Where the admin is a plain member, no keys are offered.
          const memberOf = await insertOrg();
          await addMember(memberOf, admin.id, "member");
          await page.evaluate((hash) => location.hash = hash, `#/orgs/${memberOf}`);
          await shown(page, `#/orgs/${memberOf}`);
          assert.match(await page.getByRole("heading", { level: 1 }).innerText(), /member/);
          assert.equal(await page.getByRole("heading", { name: "Keys" }).count(), 0);

          // The staff's list: found by name, suspended with a reason.
          await openFromNav(page, "All organizations", "#/staff/orgs");
          await page.getByLabel("Search name or slug").fill(tag);
          await page.getByRole("button", { name: "Find" }).click();
          await shown(page, `q=${tag}`);
          assert.equal(await page.locator("tbody tr").count(), 1);
          await recordPage(page, "staff-orgs", violations);
          await page.getByRole("link", { name: orgName }).click();
          await shown(page, `#/staff/orgs/${orgId}`);
          await page.getByLabel("Reason").fill("console test");
          await page.getByRole("button", { name: "Suspend" }).click();
          await notice(page).filter({ hasText: `Suspended ${orgName}` }).waitFor();
          assert.equal(await page.getByTestId("org-state").innerText(), "suspended");
          const staffKeys = page.getByRole("table", { name: "API keys" });
          assert.match(await staffKeys.innerText(), /integration.*revoked/s);
          assert.equal(await staffKeys.getByRole("button").count(), 0, "read-only");
          const [suspended] = await withDatabase((sql) =>
            sql`select suspension_reason from latchkey.organizations
                where id = ${orgId} and suspended_at is not null`
          );
          assert.equal(suspended?.suspension_reason, "console test");
          await recordPage(page, "staff-org", violations);

          // Roles: a team permission, then a platform role holding it.
          await openFromNav(page, "Roles", "#/roles");
          const addPermission = page.locator("form", {
            has: page.getByRole("heading", { name: "Add a team permission" }),
          });
          await addPermission.getByLabel("Name").fill(permission);
          await addPermission.getByLabel("Description").fill("Read the notes");
          await addPermission.getByRole("button", { name: "Add permission" }).click();
          await notice(page).filter({ hasText: "Permission added" }).waitFor();
          await page.getByRole("button", { name: "New role", exact: true }).click();
          const newRole = page.locator("form", {
            has: page.getByRole("heading", { name: "New role" }),
          });
          await newRole.getByLabel("Name").fill(role);
          await newRole.getByLabel("Description").fill("Reads notes and the audit log");
          await newRole.getByLabel(permission).check();
          await newRole.getByLabel("audit:read").check();
          await recordPage(page, "roles-new", violations);
          await newRole.getByRole("button", { name: "Create role" }).click();
          await notice(page).filter({ hasText: "Created the role." }).waitFor();
          const row = page.getByRole("table", { name: "Platform roles" })
            .locator("tbody tr", { hasText: role });
          assert.match(await row.innerText(), new RegExp(`audit:read, ${permission}`));
          const held = await withDatabase((sql) =>
            sql`select permission from latchkey.role_permissions where role = ${role}
                order by permission`
          );
          assert.deepEqual(held.map((r) => r.permission), ["audit:read", permission]);
          await recordPage(page, "roles", violations);

          // The users page offers the runtime role.
          await openFromNav(page, "Users", "#/users");
          const filter = page.locator("form[role=search] select[name=role]");
          assert.ok((await filter.locator("option").allInnerTexts()).includes(role));

          // Deleted again: the role, then the permission nobody else holds.
          await openFromNav(page, "Roles", "#/roles");
          await page.getByRole("button", { name: `Delete role ${role}` }).click();
          await notice(page).filter({ hasText: `Deleted the role ${role}.` }).waitFor();
          await page.getByRole("button", { name: `Delete permission ${permission}` }).click();
          await notice(page).filter({ hasText: `Deleted ${permission}.` }).waitFor();

          assert.deepEqual(refusedStatuses(errors), []);
          assert.deepEqual(foreignRequests, []);
        } finally {
          await browser.close();
        }
      }, { LATCHKEY_DATA_DIR: Deno.env.get("LATCHKEY_TEST_DATA_DIR")! });
    } finally {
      // A failure halfway would leave admin holding a team permission other tests do not expect.
      await asAdminKey("DELETE", `/admin/roles/${role}`);
      await asAdminKey("DELETE", `/admin/permissions/${permission}`);
    }
    assert.deepEqual(violations, {}, "axe-core: serious or critical violations");
  },
});
