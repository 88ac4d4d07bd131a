import assert from "node:assert/strict";
import type { InProcessFunctions } from "../../support/in_process.ts";
import {
  type ReceivedMail,
  startSmtpServer,
  type TestSmtpServer,
  tokenFromMail,
  withMailFunctions,
} from "../../support/smtp.ts";
import {
  createAccount,
  recordSecret,
  totpCode,
  uniqueEmail,
  withDatabase,
} from "../../support/http.ts";
import { testAdminKey, testMfaKey } from "../../support/webhooks.ts";
import { createAuthUser, withSupabaseIdentity } from "../../support/supabase_auth.ts";

// Notification mail to the account holder (issue 30, item 5), through the suite's real SMTP
// server: queued in SQL with the change's audit event, sent after the answer.

let clientNumber = Math.floor(Math.random() * 30_000);
const client = () => {
  clientNumber += 1;
  return { "x-forwarded-for": `198.19.${(clientNumber >> 8) & 255}.${clientNumber & 255}` };
};

const subjects = {
  password_changed: "Your password was changed",
  key_created: "A new API key on your account",
  mfa_changed: "Your second factors changed",
  role_changed: "Your role changed",
  account_banned: "Your account was banned",
  account_unbanned: "Your account was unbanned",
  key_leaked: "An API key of yours was reported leaked",
};

const orgSubjects = {
  joined: "You joined an organization",
  changed: "Your role in an organization changed",
  removed: "You were removed from an organization",
};

/** An account signed up through `functions`, its address verified (as its link would). */
async function verifiedAccount(functions: InProcessFunctions, password: string) {
  const email = uniqueEmail("notify");
  const created = await functions.call("POST", "/auth/sign-up/email", client(), {
    name: "Notified",
    email,
    password,
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  await withDatabase((sql) =>
    sql`update latchkey.users set email_verified_at = now() where id = ${created.body.user.id}`
  );
  const token = created.body.session.token as string;
  return {
    email,
    id: created.body.user.id as string,
    token,
    auth: { authorization: `Bearer ${token}` },
  };
}

/** The mail to `to` with `subject`: to that address only, naming no secret of `secrets`. */
async function notice(
  smtp: TestSmtpServer,
  to: string,
  subject: string,
  secrets: string[],
): Promise<ReceivedMail> {
  const mail = await smtp.waitFor(to, subject);
  assert.match(mail.to, new RegExp(`^(.*<)?${to.replace(/[.+]/g, "\\$&")}>?$`), mail.to);
  for (
    const secret of secrets.filter((secret) => typeof secret === "string" && secret.length >= 6)
  ) {
    assert.ok(!mail.text.includes(secret), `${subject}: the text holds a secret`);
    assert.ok(!mail.html.includes(secret), `${subject}: the HTML holds a secret`);
  }
  assert.match(
    mail.text,
    /If (this was not you|you did not expect this|you think this is a mistake|you do not know how it leaked)/,
  );
  return mail;
}

/** Every mail to `to` with `subject`, once `count` of them arrived. */
async function mailsTo(smtp: TestSmtpServer, to: string, subject: string, count: number) {
  const matching = () =>
    smtp.received.filter((mail) => mail.to.includes(to) && mail.subject === subject);
  await waitUntil(() => matching().length >= count);
  return matching();
}

async function outboxKinds(recipient: string): Promise<string[]> {
  const rows = await withDatabase((sql) =>
    sql<{ kind: string }[]>`select kind from latchkey.mail_outbox where recipient = ${recipient}
      order by created_at`
  );
  return rows.map((row) => row.kind);
}

Deno.test("each notification reaches the holder's address, with no secret in it", async () => {
  const admin = await createAccount("admin", "notify-admin");
  await withMailFunctions(async (functions, smtp) => {
    const secrets: string[] = ["first password here", "second password here"];
    const account = await verifiedAccount(functions, secrets[0]);
    secrets.push(account.token);

    // Password changed (by the holder, in this very session: sent all the same).
    const changed = await functions.call("POST", "/auth/change-password", {
      ...account.auth,
      ...client(),
    }, { currentPassword: secrets[0], newPassword: secrets[1] });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    if (changed.body.session?.token) secrets.push(changed.body.session.token);
    const auth = changed.body.session?.token
      ? { authorization: `Bearer ${changed.body.session.token}` }
      : account.auth;
    const password = await notice(smtp, account.email, subjects.password_changed, secrets);
    assert.match(
      password.text,
      /was changed on \d{4}-\d\d-\d\d \d\d:\d\d UTC from the address 198\.19\./,
    );

    // A new API key: named, and its 12-character prefix, never the key.
    const key = await functions.call("POST", "/keys", { ...auth, ...client() }, {
      name: "deploy bot",
    });
    assert.equal(key.status, 201, JSON.stringify(key.body));
    recordSecret(key.body.key);
    secrets.push(key.body.key, key.body.key.slice(12));
    const created = await notice(smtp, account.email, subjects.key_created, secrets);
    assert.ok(created.text.includes(`"deploy bot", starting ${key.body.keyPrefix}`), created.text);

    // A second factor added, then removed.
    const enrolled = await functions.call("POST", "/auth/factors/totp", auth, { name: "phone" });
    assert.equal(enrolled.status, 201, JSON.stringify(enrolled.body));
    recordSecret(enrolled.body.secret, enrolled.body.otpauthUri);
    const code = totpCode(enrolled.body.secret);
    const verified = await functions.call(
      "POST",
      `/auth/factors/${enrolled.body.id}/verify`,
      auth,
      { code },
    );
    assert.equal(verified.status, 200, JSON.stringify(verified.body));
    recordSecret(...(verified.body.recoveryCodes ?? []));
    secrets.push(enrolled.body.secret, enrolled.body.otpauthUri, code, verified.body.session.token);
    secrets.push(...(verified.body.recoveryCodes ?? []));
    const added = await notice(smtp, account.email, subjects.mfa_changed, secrets);
    assert.match(added.text, /A second factor "phone" \(totp\) was added/);
    const aal2 = verified.body.session.token
      ? { authorization: `Bearer ${verified.body.session.token}` }
      : auth;
    const removed = await fetch(`${functions.base}/auth/factors/${enrolled.body.id}`, {
      method: "DELETE",
      headers: aal2,
    });
    await removed.body?.cancel();
    assert.equal(removed.status, 204);
    await waitUntil(() =>
      smtp.received.filter((mail) =>
        mail.to.includes(account.email) && mail.subject === subjects.mfa_changed
      ).length === 2
    );
    const gone = smtp.received.filter((mail) =>
      mail.to.includes(account.email) && mail.subject === subjects.mfa_changed
    )[1];
    assert.match(gone.text, /The second factor "phone" \(totp\) was removed/);

    // The key reported leaked (by whoever found it).
    const leaked = await functions.call("POST", "/keys/revoke-leaked", client(), {
      key: key.body.key,
    });
    assert.equal(leaked.status, 202);
    const leak = await notice(smtp, account.email, subjects.key_leaked, secrets);
    assert.ok(leak.text.includes(key.body.keyPrefix), leak.text);

    // A role changed, then the account banned, by an admin.
    const adminAuth = { authorization: `Bearer ${admin.token}` };
    const promoted = await functions.call("PATCH", `/admin/users/${account.id}`, adminAuth, {
      role: "support",
    });
    assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
    const role = await notice(smtp, account.email, subjects.role_changed, secrets);
    assert.match(role.text, /is now support \(it was user\)/);
    const banned = await functions.call("PATCH", `/admin/users/${account.id}`, adminAuth, {
      banned: true,
      banReason: "a private note of the admins",
    });
    assert.equal(banned.status, 200, JSON.stringify(banned.body));
    const ban = await notice(smtp, account.email, subjects.account_banned, secrets);
    assert.ok(!ban.text.includes("a private note"), "the ban reason is the admins' own");

    // Nobody else heard of any of it, and every delivered body is scrubbed from the outbox.
    for (const mail of smtp.received) {
      if (Object.values(subjects).includes(mail.subject as never)) {
        assert.ok(mail.to.includes(account.email), `${mail.subject} went to ${mail.to}`);
      }
    }
    assert.deepEqual(
      (await outboxKinds(account.email)).filter((kind) =>
        kind !== "email_verification"
      ),
      [
        "password_changed",
        "key_created",
        "mfa_changed",
        "mfa_changed",
        "key_leaked",
        "role_changed",
        "account_banned",
      ],
    );
    await functions.settled();
    const [{ kept }] = await withDatabase((sql) =>
      sql`select count(*)::int as kept from latchkey.mail_outbox
        where recipient = ${account.email} and text_body is not null`
    );
    assert.equal(kept, 0);
  }, { LATCHKEY_MFA_ENCRYPTION_KEY: testMfaKey });
});

Deno.test("a kind LATCHKEY_NOTIFY leaves out, and an unverified address, are mailed nothing", async () => {
  await withMailFunctions(async (functions, smtp) => {
    const account = await verifiedAccount(functions, "first password here");
    const changed = await functions.call("POST", "/auth/change-password", account.auth, {
      currentPassword: "first password here",
      newPassword: "second password here",
    });
    assert.equal(changed.status, 200);
    const auth = changed.body.session?.token
      ? { authorization: `Bearer ${changed.body.session.token}` }
      : account.auth;
    const key = await functions.call("POST", "/keys", auth, { name: "enabled kind" });
    assert.equal(key.status, 201);
    recordSecret(key.body.key);
    // The enabled kind arrives, so the disabled one had its chance to (it was queued first).
    await smtp.waitFor(account.email, subjects.key_created);
    await functions.settled();
    assert.ok(!smtp.received.some((mail) => mail.subject === subjects.password_changed));
    assert.deepEqual(
      (await outboxKinds(account.email)).filter((kind) => kind !== "email_verification"),
      ["key_created"],
    );

    // An address nobody proved is not mailed (sign-up must not make Latchkey a mail cannon).
    const email = uniqueEmail("unproven");
    const unproven = await functions.call("POST", "/auth/sign-up/email", client(), {
      name: "Unproven",
      email,
      password: "first password here",
    });
    assert.equal(unproven.status, 200);
    const unprovenKey = await functions.call("POST", "/keys", {
      authorization: `Bearer ${unproven.body.session.token}`,
    }, { name: "not mailed" });
    assert.equal(unprovenKey.status, 201);
    recordSecret(unprovenKey.body.key);
    assert.deepEqual(
      (await outboxKinds(email)).filter((kind) => kind !== "email_verification"),
      [],
    );
  }, { LATCHKEY_NOTIFY: "key_created,role_changed" });
});

Deno.test("a rolled-back change queues no notification; a committed one does", async () => {
  await withMailFunctions(async (functions) => {
    const account = await verifiedAccount(functions, "first password here");
    const request = { requestId: "rollback-test", ip: "198.19.0.1", notify: "password_changed" };
    const count = `select count(*)::int as n from latchkey.mail_outbox
      where recipient = $1 and kind = 'password_changed'`;
    await withDatabase(async (sql) => {
      await sql.begin(async (tx) => {
        await tx`select latchkey.append_audit_event('session', ${account.id}, null,
          'auth.password_changed', 'user', ${account.id}, ${tx.json(request)}, '{}')`;
        assert.equal(
          (await tx.unsafe(count, [account.email]))[0].n,
          1,
          "queued in the change's transaction",
        );
        await tx`select 1/0`;
      }).catch((error) => assert.match(String(error), /division by zero/));
      assert.equal((await sql.unsafe(count, [account.email]))[0].n, 0, "gone with the rollback");
      await sql.begin((tx) =>
        tx`select latchkey.append_audit_event('session', ${account.id}, null,
          'auth.password_changed', 'user', ${account.id}, ${tx.json(request)}, '{}')`
      );
      assert.equal((await sql.unsafe(count, [account.email]))[0].n, 1, "kept with the commit");
      // Without the kinds in the request (the bootstrap tasks, SQL by hand): nothing.
      await sql`select latchkey.append_audit_event('session', ${account.id}, null,
        'auth.password_changed', 'user', ${account.id}, ${sql.json({ requestId: "none" })}, '{}')`;
      assert.equal((await sql.unsafe(count, [account.email]))[0].n, 1);
    });
  });
});

async function waitUntil(condition: () => boolean, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

Deno.test("an organization role granted, changed, handed on and removed, and an unban, are mailed", async () => {
  await withMailFunctions(async (functions, smtp) => {
    const owner = await verifiedAccount(functions, "owner password here");
    const member = await verifiedAccount(functions, "member password here");
    const org = await functions.call("POST", "/orgs", owner.auth, { name: "Notified & Co" });
    assert.equal(org.status, 201, JSON.stringify(org.body));
    const orgId = org.body.org.id as string;
    const named = `the organization "Notified & Co" (${org.body.org.slug})`;

    // Granted: the member joins by the mailed invitation.
    const invited = await functions.call("POST", `/orgs/${orgId}/invitations`, owner.auth, {
      email: member.email,
      role: "member",
    });
    assert.equal(invited.status, 201, JSON.stringify(invited.body));
    const token = tokenFromMail(
      await smtp.waitFor(member.email, "An invitation to an organization"),
    );
    recordSecret(token);
    const accepted = await functions.call("POST", "/orgs/invitations/accept", {
      ...member.auth,
      ...client(),
    }, { token });
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    const joined = await notice(smtp, member.email, orgSubjects.joined, [token, member.token]);
    assert.ok(joined.text.includes(`joined ${named} as member`), joined.text);
    assert.ok(joined.html.includes("Notified &#38; Co"), "the name is escaped in the HTML");

    // Changed by another member, then ownership handed on: a notice to each side.
    const changed = await functions.call(
      "PATCH",
      `/orgs/${orgId}/members/${member.id}`,
      owner.auth,
      { role: "admin" },
    );
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    const [role] = await mailsTo(smtp, member.email, orgSubjects.changed, 1);
    assert.match(role.text, /is now admin \(it was member\), since .* changed by another member\./);
    const handed = await functions.call("POST", `/orgs/${orgId}/transfer`, owner.auth, {
      userId: member.id,
    });
    assert.equal(handed.status, 200, JSON.stringify(handed.body));
    const [, owns] = await mailsTo(smtp, member.email, orgSubjects.changed, 2);
    assert.match(owns.text, /is now the owner of .* \(it was admin\), handed on by its owner/);
    const [gave] = await mailsTo(smtp, owner.email, orgSubjects.changed, 1);
    assert.match(gave.text, /handed the ownership of .*: its role there is now admin\./);

    // Removed by the new owner.
    const removed = await fetch(`${functions.base}/orgs/${orgId}/members/${owner.id}`, {
      method: "DELETE",
      headers: member.auth,
    });
    assert.equal(removed.status, 200, await removed.text());
    const gone = await notice(smtp, owner.email, orgSubjects.removed, [owner.token]);
    assert.ok(gone.text.includes(`was removed from ${named}, where it was admin`), gone.text);

    // Banned, then unbanned, by the X-Admin-Key.
    for (const banned of [true, false]) {
      const answer = await functions.call("PATCH", `/admin/users/${owner.id}`, {
        "x-admin-key": testAdminKey,
      }, { banned });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
    }
    const unbanned = await notice(smtp, owner.email, subjects.account_unbanned, [testAdminKey]);
    assert.match(unbanned.text, /lifted the ban on your account .*: its API keys work again/);

    await functions.settled();
    const kinds = async (email: string) =>
      (await outboxKinds(email)).filter((kind) => !["email_verification"].includes(kind));
    assert.deepEqual(await kinds(member.email), [
      "org_invitation",
      "org_role_changed",
      "org_role_changed",
      "org_role_changed",
    ]);
    assert.deepEqual(await kinds(owner.email), [
      "org_role_changed",
      "org_role_changed",
      "account_banned",
      "account_unbanned",
    ]);
  }, { LATCHKEY_ADMIN_KEY: testAdminKey });
});

Deno.test("at most LATCHKEY_NOTIFY_MAX_PER_HOUR of a kind an hour: the rest counted, audited once, reported next hour", async () => {
  await withMailFunctions(async (functions, smtp) => {
    const account = await verifiedAccount(functions, "first password here");
    const keys: string[] = [];
    const makeKey = async (name: string) => {
      const made = await functions.call("POST", "/keys", account.auth, { name });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      recordSecret(made.body.key);
      keys.push(made.body.key);
    };
    // A loop of a benign action that notifies: two mailed, the rest held back.
    for (const name of ["one", "two", "three", "four"]) await makeKey(name);
    // Another kind is not held back by the flood of the first.
    const leaked = await functions.call("POST", "/keys/revoke-leaked", client(), { key: keys[0] });
    assert.equal(leaked.status, 202);
    await notice(smtp, account.email, subjects.key_leaked, keys);
    await functions.settled();
    assert.deepEqual(
      (await outboxKinds(account.email)).filter((kind) => kind !== "email_verification"),
      ["key_created", "key_created", "key_leaked"],
    );
    const capped = await withDatabase((sql) =>
      sql<{ actor_user_id: string; metadata: Record<string, unknown> }[]>`
        select actor_user_id, metadata from latchkey.audit_events
        where action = 'mail.notifications_capped' and target_id = ${account.id}`
    );
    assert.equal(capped.length, 1, "audited once, however many were held back");
    assert.equal(capped[0].actor_user_id, account.id, "as the event that went over");
    assert.equal(capped[0].metadata.kind, "key_created");
    assert.equal(capped[0].metadata.limitPerHour, 2);
    assert.equal(capped[0].metadata.action, "api_key.created");

    // The next hour (the window moved back, not waited for): mailed again, saying how many
    // the last hour held back.
    await withDatabase((sql) =>
      sql`update latchkey.notification_windows set window_start = window_start - interval '1 hour'
        where user_id = ${account.id} and kind = 'key_created'`
    );
    await makeKey("five");
    const [, , third] = await mailsTo(smtp, account.email, subjects.key_created, 3);
    assert.match(
      third.text,
      /^In the hour from \d\d:00 UTC on \d{4}-\d\d-\d\d, 2 more notices like this one were not mailed: at most 2 an hour/,
    );
    assert.ok(third.text.includes('"five"'), third.text);
    await functions.settled();
    assert.equal(
      smtp.received.filter((mail) => mail.subject === subjects.key_created).length,
      3,
      "the held-back ones are never sent",
    );
  }, { LATCHKEY_NOTIFY_MAX_PER_HOUR: "2" });
});

Deno.test({
  name:
    "LATCHKEY_IDENTITY=supabase: Latchkey's own events are mailed to an address Supabase Auth confirmed",
  ignore: !Deno.env.get("LATCHKEY_TEST_SUPERUSER_URL"),
  async fn() {
    const smtp = await startSmtpServer();
    try {
      await withSupabaseIdentity(async (served, project) => {
        const confirmed = await createAuthUser();
        const unconfirmed = await createAuthUser({ confirmed: false });
        for (const user of [confirmed, unconfirmed]) {
          const token = await project.token(user);
          recordSecret(token);
          const made = await served.call("POST", "/keys", { authorization: `Bearer ${token}` }, {
            name: "supabase key",
          });
          assert.equal(made.status, 201, JSON.stringify(made.body));
          recordSecret(made.body.key);
        }
        const mail = await notice(smtp, confirmed.email!, subjects.key_created, []);
        assert.ok(mail.text.includes('"supabase key"'), mail.text);
        await served.settled();
        assert.deepEqual(await outboxKinds(unconfirmed.email!), [], "an unconfirmed address");
      }, { LATCHKEY_ENV: "test", LATCHKEY_MAILER: smtp.url });
    } finally {
      await smtp.close();
    }
  },
});
