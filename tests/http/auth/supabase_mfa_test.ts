import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- test-only, so not in deno.json (docs/testing.md, lockfiles)
import { createClient } from "npm:@supabase/supabase-js@2.119.1";
import { decodeJwt } from "jose";
import { newSigningKey } from "../../../functions/_local/jwt_keygen.ts";
import { recordSecret, totpCode } from "../../support/http.ts";
import { serveFunctions } from "../../support/in_process.ts";
import { createAuthUser, supabaseProject } from "../../support/supabase_auth.ts";

/**
 * LATCHKEY_IDENTITY=supabase with a role that needs a second factor: the person raises their
 * Supabase Auth session to aal2 with supabase-js's own `auth.mfa` (the real client, against the
 * test's Supabase Auth, which checks the TOTP codes for real), and Latchkey's step-up window is
 * read from the `totp` entry of the access token's `amr`, as Supabase Auth stamps it.
 */

const ignore = !Deno.env.get("LATCHKEY_TEST_SUPERUSER_URL");

Deno.test({
  name: "supabase.auth.mfa raises a support session to aal2; step-up follows the token's amr",
  ignore,
  async fn() {
    const anonKey = `anon-${crypto.randomUUID()}`;
    const adminKey = `supabase-mfa-admin-key-${crypto.randomUUID()}`;
    const password = `supabase-${crypto.randomUUID()}`;
    recordSecret(adminKey, password);
    const project = await supabaseProject({ anonKey });
    const served = serveFunctions({
      LATCHKEY_IDENTITY: "supabase",
      SUPABASE_URL: project.url,
      LATCHKEY_ADMIN_KEY: adminKey,
      LATCHKEY_JWT_SIGNING_KEYS: JSON.stringify({ keys: [await newSigningKey()] }),
      LATCHKEY_STEP_UP_MINUTES: "10",
    });
    const client = () =>
      createClient(project.url, anonKey, {
        auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      });
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const exportAudit = async (token: string) => {
      const since = new Date(Date.now() - 60_000).toISOString();
      const response = await fetch(
        `${served.base}/admin/audit/export?since=${encodeURIComponent(since)}`,
        { headers: bearer(token) },
      );
      const text = await response.text();
      return { status: response.status, text };
    };
    try {
      const user = await createAuthUser();
      project.withPassword(user, password);
      const supabase = client();
      const signedIn = await supabase.auth.signInWithPassword({ email: user.email!, password });
      assert.equal(signedIn.error, null);
      const aal1 = signedIn.data.session!.access_token;
      recordSecret(aal1);
      assert.equal((await served.call("GET", "/auth/session", bearer(aal1))).status, 200);
      const promoted = await served.call("PATCH", `/admin/users/${user.id}`, {
        "x-admin-key": adminKey,
      }, { role: "support" });
      assert.equal(promoted.status, 200, JSON.stringify(promoted.body));

      // Support needs a second factor (LATCHKEY_MFA_REQUIRED_ROLES, default admin,support).
      const refused = await served.call("GET", "/admin/audit?limit=1", bearer(aal1));
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error.code, "mfa_required");

      const enrolled = await supabase.auth.mfa.enroll({
        factorType: "totp",
        friendlyName: "Phone",
      });
      assert.equal(enrolled.error, null);
      const { id: factorId, totp } = enrolled.data!;
      assert.match(totp.qr_code, /^data:image\/svg\+xml;utf-8,<svg/, "supabase-js's data: URL");
      assert.match(totp.uri, /^otpauth:\/\/totp\/.*secret=/);
      const unverified = await supabase.auth.mfa.getAuthenticatorAssuranceLevel();
      assert.deepEqual(
        [unverified.data?.currentLevel, unverified.data?.nextLevel],
        ["aal1", "aal1"],
        "an unverified factor raises nothing",
      );

      const wrong = await supabase.auth.mfa.challengeAndVerify({
        factorId,
        code: ["123456", "654321", "111111"].find((code) =>
          ![-1, 0, 1].some((step) => totpCode(totp.secret, step) === code)
        )!,
      });
      assert.equal(wrong.error?.status, 422);
      assert.equal(wrong.error?.code, "mfa_verification_failed");

      const verified = await supabase.auth.mfa.challengeAndVerify({
        factorId,
        code: totpCode(totp.secret),
      });
      assert.equal(verified.error, null);
      const aal2 = verified.data!.access_token;
      recordSecret(aal2);
      const claims = decodeJwt(aal2);
      assert.equal(claims.aal, "aal2");
      assert.equal(claims.session_id, decodeJwt(aal1).session_id, "the same session, raised");
      assert.deepEqual(
        (claims.amr as { method: string }[]).map((entry) => entry.method).sort(),
        ["password", "totp"],
      );
      const levels = await supabase.auth.mfa.getAuthenticatorAssuranceLevel();
      assert.deepEqual([levels.data?.currentLevel, levels.data?.nextLevel], ["aal2", "aal2"]);
      const listed = await supabase.auth.mfa.listFactors();
      assert.deepEqual(listed.data?.totp.map((factor) => factor.id), [factorId]);

      const session = await served.call("GET", "/auth/session", bearer(aal2));
      assert.equal(session.body.session.aal, "aal2");
      assert.ok(session.body.permissions.includes("audit:read"));
      assert.equal(session.body.mfaRequired, undefined);
      const fresh = await exportAudit(aal2);
      assert.equal(fresh.status, 200, fresh.text);

      // Eleven minutes on: the same aal2 session, its totp past LATCHKEY_STEP_UP_MINUTES.
      const stale = await project.ageSecondFactor(user, 11);
      recordSecret(stale);
      assert.equal(decodeJwt(stale).aal, "aal2");
      const reading = await served.call("GET", "/admin/audit?limit=1", bearer(stale));
      assert.equal(reading.status, 200, "still aal2: reading needs no step-up");
      const refusedExport = await exportAudit(stale);
      assert.equal(refusedExport.status, 403);
      assert.equal(JSON.parse(refusedExport.text).error.code, "step_up_required");
      // A token that claims aal2 without a second factor in its amr steps up nothing either.
      const bare = await project.token(user, { aal: "aal2" });
      assert.equal((await exportAudit(bare)).status, 403);
      // Nor does Supabase Auth's `passkey`: a passkey sign-in, a first factor there.
      const signedInWithPasskey = await project.token(user, {
        aal: "aal2",
        amr: [{ method: "passkey", timestamp: Math.floor(Date.now() / 1000) }],
      });
      const byPasskeySignIn = await exportAudit(signedInWithPasskey);
      assert.equal(byPasskeySignIn.status, 403);
      assert.equal(JSON.parse(byPasskeySignIn.text).error.code, "step_up_required");

      // Verified again in the same session: the totp entry moves on, and the export goes.
      const again = await supabase.auth.mfa.challengeAndVerify({
        factorId,
        code: totpCode(totp.secret, 1),
      });
      assert.equal(again.error, null);
      const steppedUp = again.data!.access_token;
      recordSecret(steppedUp);
      const totpAt = (decodeJwt(steppedUp).amr as { method: string; timestamp: number }[])
        .find((entry) => entry.method === "totp")!.timestamp;
      assert.ok(totpAt > Date.now() / 1000 - 60, "a fresh totp timestamp");
      const exported = await exportAudit(steppedUp);
      assert.equal(exported.status, 200, exported.text);

      // A new password sign-in is aal1 again, and Supabase Auth wants aal2 to enrol a second
      // factor next to the verified one.
      const other = client();
      const second = await other.auth.signInWithPassword({ email: user.email!, password });
      assert.equal(second.error, null);
      recordSecret(second.data.session!.access_token);
      const secondLevels = await other.auth.mfa.getAuthenticatorAssuranceLevel();
      assert.deepEqual(
        [secondLevels.data?.currentLevel, secondLevels.data?.nextLevel],
        ["aal1", "aal2"],
      );
      const blocked = await other.auth.mfa.enroll({ factorType: "totp", friendlyName: "Tablet" });
      assert.equal(blocked.error?.code, "insufficient_aal");
      const atAal1 = await served.call(
        "GET",
        "/admin/audit?limit=1",
        bearer(second.data.session!.access_token),
      );
      assert.equal(atAal1.body.error.code, "mfa_required");
    } finally {
      await served.close();
      await project.close();
    }
  },
});
