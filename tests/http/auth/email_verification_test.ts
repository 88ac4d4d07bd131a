import assert from "node:assert/strict";
import type { InProcessFunctions } from "../../support/in_process.ts";
import { testAppUrl, tokenFromMail, withMailFunctions } from "../../support/smtp.ts";
import { auditEventsFor, uniqueEmail, withDatabase } from "../../support/http.ts";

const appUrl = testAppUrl;
const withMail = withMailFunctions;
let clients = 0;
const client = () => ({
  "x-forwarded-for": `198.19.${Math.floor(clients / 250)}.${clients++ % 250}`,
});

async function signUp(functions: InProcessFunctions, password = "a verified password") {
  const email = uniqueEmail("verify");
  const result = await functions.call("POST", "/auth/sign-up/email", client(), {
    name: "Verifier",
    email,
    password,
  });
  assert.equal(result.status, 200);
  return { email, password, id: result.body.user.id, token: result.body.session?.token, result };
}

Deno.test(
  "sign-up sends a verification link; following it sets emailVerifiedAt everywhere",
  async () => {
    await withMail(async (functions, smtp) => {
      const account = await signUp(functions);
      assert.equal(account.result.body.user.emailVerifiedAt, null);
      const mail = await smtp.waitFor(account.email);
      assert.equal(mail.subject, "Confirm your email address");
      assert.ok(mail.text.includes(`${appUrl}/verify-email#token=`));
      const token = tokenFromMail(mail);
      const key = await functions.call("POST", "/keys", {
        authorization: `Bearer ${account.token}`,
      }, { name: "made before the proof" });
      assert.equal(key.status, 201);

      const verified = await functions.call("POST", "/auth/email/verify", client(), { token });
      assert.equal(verified.status, 200);
      assert.equal(verified.body.user.id, account.id);
      assert.ok(Date.parse(verified.body.user.emailVerifiedAt) <= Date.now());
      const [event] = await auditEventsFor(verified.headers.get("x-request-id")!);
      assert.equal(event.action, "auth.email_verified");

      // The first proof of the address ends what was made before it, by whoever that was.
      const before = await functions.call("GET", "/auth/session", {
        authorization: `Bearer ${account.token}`,
      });
      assert.equal(before.status, 401, "the session from before the proof has ended");
      assert.deepEqual(event.metadata, {
        email: account.email,
        sessionsRevoked: 1,
        keysRevoked: 1,
      });
      const keyNow = await functions.call("POST", "/keys/verify", {}, { key: key.body.key });
      assert.equal(keyNow.body.code, "REVOKED");
      const signIn = await functions.call("POST", "/auth/sign-in/email", client(), {
        email: account.email,
        password: account.password,
      });
      assert.equal(signIn.body.user.emailVerifiedAt, verified.body.user.emailVerifiedAt);
      const session = await functions.call("GET", "/auth/session", {
        authorization: `Bearer ${signIn.body.session.token}`,
      });
      assert.equal(session.body.user.emailVerifiedAt, verified.body.user.emailVerifiedAt);

      const again = await functions.call("POST", "/auth/email/verify", client(), { token });
      assert.equal(again.status, 400);
      assert.equal(again.body.error.code, "invalid_token");
      const resend = await functions.call("POST", "/auth/email/resend", {
        authorization: `Bearer ${signIn.body.session.token}`,
      });
      assert.deepEqual(resend.body, { success: true, alreadyVerified: true });
    });
  },
);

Deno.test("resend sends a new link (the old one dies) and is limited per hour", async () => {
  await withMail(async (functions, smtp) => {
    const account = await signUp(functions);
    const first = tokenFromMail(await smtp.waitFor(account.email));
    smtp.received.length = 0;
    const auth = { authorization: `Bearer ${account.token}` };
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      statuses.push((await functions.call("POST", "/auth/email/resend", auth)).status);
    }
    assert.deepEqual(statuses, [200, 200, 429]);
    // Each allowed resend sent one mail, after its answer: wait for both (they may arrive in
    // either order, so the newest link is not simply the last mail in).
    await functions.settled();
    const resent = () => smtp.received.filter((mail) => mail.to.includes(account.email));
    for (const deadline = Date.now() + 10_000; resent().length < 2 && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(resent().length, 2, "one mail per allowed resend");
    const verify = (token: string) =>
      functions.call("POST", "/auth/email/verify", client(), { token });
    assert.equal((await verify(first)).status, 400, "a newer link kills the older");
    const outcomes = [];
    for (const mail of resent()) outcomes.push((await verify(tokenFromMail(mail))).status);
    assert.deepEqual(outcomes.toSorted(), [200, 400], "the newest link alone verifies");
  }, { LATCHKEY_EMAIL_VERIFICATION_RESENDS_PER_HOUR: "2" });
});

Deno.test(
  "LATCHKEY_REQUIRE_EMAIL_VERIFICATION: no session until verified; a wrong password is 401 as for nobody",
  async () => {
    await withMail(async (functions, smtp) => {
      const account = await signUp(functions);
      assert.equal(account.result.body.session, null, "sign-up gives an unproven account nothing");
      assert.equal(account.result.headers.get("set-cookie"), null);
      await smtp.waitFor(account.email);
      smtp.received.length = 0;
      const right = await functions.call("POST", "/auth/sign-in/email", client(), {
        email: account.email,
        password: account.password,
      });
      const wrong = await functions.call("POST", "/auth/sign-in/email", client(), {
        email: account.email,
        password: "not the password at all",
      });
      assert.equal(right.status, 403);
      assert.equal(right.body.error.code, "email_not_verified");
      // A wrong password tells nothing about the account: the answer an unknown email gets.
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.error.code, "invalid_credentials");
      assert.equal(right.headers.get("set-cookie"), null, "no session for an unverified account");
      // The right password sent a new link; following it lets the owner in.
      const token = tokenFromMail(await smtp.waitFor(account.email));
      assert.equal(
        (await functions.call("POST", "/auth/email/verify", client(), { token })).status,
        200,
      );
      const after = await functions.call("POST", "/auth/sign-in/email", client(), {
        email: account.email,
        password: account.password,
      });
      assert.equal(after.status, 200);
      // Unknown emails still answer 401, as before.
      const unknown = await functions.call("POST", "/auth/sign-in/email", client(), {
        email: uniqueEmail("nobody"),
        password: "whatever password",
      });
      assert.equal(unknown.status, 401);
    }, { LATCHKEY_REQUIRE_EMAIL_VERIFICATION: "true" });
  },
);

Deno.test(
  "admin-made people get a link, service accounts and the bootstrap admin count as verified, ?verified=false lists the rest",
  async () => {
    const adminKey = `admin-key-${crypto.randomUUID()}`;
    await withMail(async (functions, smtp) => {
      const asAdmin = { "x-admin-key": adminKey, ...client() };
      const personEmail = uniqueEmail("admin-made");
      const person = await functions.call("POST", "/admin/users", asAdmin, {
        email: personEmail,
        name: "Made by an admin",
        password: "an admin-set password",
      });
      assert.equal(person.status, 201);
      assert.equal(person.body.user.emailVerifiedAt, null);
      await smtp.waitFor(personEmail);
      const machine = await functions.call("POST", "/admin/users", asAdmin, {
        email: uniqueEmail("machine"),
        name: "A service",
        serviceAccount: true,
      });
      assert.ok(machine.body.user.emailVerifiedAt, "a service account is verified");

      const unverified = await functions.call(
        "GET",
        `/admin/users?verified=false&email=${encodeURIComponent(personEmail)}`,
        asAdmin,
      );
      assert.deepEqual(unverified.body.users.map((user: { id: string }) => user.id), [
        person.body.user.id,
      ]);
      const verifiedOnly = await functions.call(
        "GET",
        `/admin/users?verified=true&email=${encodeURIComponent(personEmail)}`,
        asAdmin,
      );
      assert.deepEqual(verifiedOnly.body.users, []);
    }, { LATCHKEY_ADMIN_KEY: adminKey });

    const bootstrapEmail = Deno.env.get("LATCHKEY_TEST_BOOTSTRAP_EMAIL");
    if (bootstrapEmail) {
      const [admin] = await withDatabase((sql) =>
        sql`select email_verified_at from latchkey.users where lower(email) = lower(${bootstrapEmail})`
      );
      assert.ok(admin.email_verified_at, "the bootstrap admin counts as verified");
    }
  },
);
