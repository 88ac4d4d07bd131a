import assert from "node:assert/strict";
import type { InProcessFunctions } from "../../support/in_process.ts";
import {
  testAppUrl,
  type TestSmtpServer,
  tokenFromMail,
  withMailFunctions,
} from "../../support/smtp.ts";
import { auditEventsFor, recordSecret, uniqueEmail, withDatabase } from "../../support/http.ts";

const inviteSubject = "An invitation to an organization";

let clientNumber = Math.floor(Math.random() * 30_000);
const client = () => {
  clientNumber += 1;
  return { "x-forwarded-for": `198.19.${(clientNumber >> 8) & 255}.${clientNumber & 255}` };
};

interface Person {
  id: string;
  email: string;
  auth: Record<string, string>;
}

/** Signs up through the API; with `verified`, follows the mailed link as a person would. */
async function signUp(
  functions: InProcessFunctions,
  smtp: TestSmtpServer,
  tag: string,
  { verified = true, email = uniqueEmail(tag) } = {},
): Promise<Person> {
  const created = await functions.call("POST", "/auth/sign-up/email", client(), {
    name: `Person ${tag}`,
    email,
    password: "a password for invitations",
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  recordSecret(created.body.session.token);
  const person = {
    id: created.body.user.id,
    email,
    auth: { authorization: `Bearer ${created.body.session.token}`, ...client() },
  };
  if (verified) await verifyAndSignIn(functions, smtp, person);
  return person;
}

/**
 * Follows the mailed link as a person would, then signs in again: proving the address ends the
 * sessions from before it was proven (a squatter's among them).
 */
async function verifyAndSignIn(
  functions: InProcessFunctions,
  smtp: TestSmtpServer,
  person: Person,
) {
  await verify(functions, smtp, person.email);
  const signedIn = await functions.call("POST", "/auth/sign-in/email", client(), {
    email: person.email,
    password: "a password for invitations",
  });
  assert.equal(signedIn.status, 200);
  recordSecret(signedIn.body.session.token);
  person.auth = { authorization: `Bearer ${signedIn.body.session.token}`, ...client() };
}

async function verify(functions: InProcessFunctions, smtp: TestSmtpServer, email: string) {
  const token = tokenFromMail(await smtp.waitFor(email, "Confirm your email address"));
  const verified = await functions.call("POST", "/auth/email/verify", client(), { token });
  assert.equal(verified.status, 200);
}

/** The first mail to `email` in any letter case, with that subject (waiting up to 10 s). */
async function mailTo(smtp: TestSmtpServer, email: string, subject: string) {
  for (let waited = 0; waited < 10_000; waited += 50) {
    const mail = smtp.received.find((message) =>
      message.to.toLowerCase().includes(email) && message.subject === subject
    );
    if (mail) return mail;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no mail to ${email}`);
}

async function orgOf(functions: InProcessFunctions, owner: Person): Promise<string> {
  const created = await functions.call("POST", "/orgs", owner.auth, { name: "Invitations" });
  assert.equal(created.status, 201);
  return created.body.org.id;
}

Deno.test("an invitation by mail: the invited address signs up, verifies and joins, once", async () => {
  await withMailFunctions(async (functions, smtp) => {
    const owner = await signUp(functions, smtp, "inviter");
    const orgId = await orgOf(functions, owner);
    const email = uniqueEmail("invited");
    const invited = await functions.call("POST", `/orgs/${orgId}/invitations`, owner.auth, {
      email: email.toUpperCase(),
      role: "admin",
    });
    assert.equal(invited.status, 201, JSON.stringify(invited.body));
    assert.equal(invited.body.invitation.role, "admin");
    const [audited] = await auditEventsFor(invited.headers.get("x-request-id")!);
    assert.equal(audited.action, "org.member_invited");

    const mail = await mailTo(smtp, email, inviteSubject);
    assert.ok(mail.text.includes(`${testAppUrl}/accept-invitation#token=`), mail.text);
    assert.ok(mail.text.includes('"Invitations"'), "the organization is named");
    const token = tokenFromMail(mail);
    recordSecret(token);
    await functions.settled();
    const [stored] = await withDatabase((sql) =>
      sql`select
        (select count(*)::int from latchkey.org_invitations
          where token_hash = sha256(convert_to(${token}, 'UTF8'))) as hashed,
        (select count(*)::int from latchkey.mail_outbox
          where text_body like '%' || ${token} || '%') as plain`
    );
    assert.deepEqual({ ...stored }, { hashed: 1, plain: 0 }, "stored as its hash only");

    // Not signed up yet: any session but the invited address's is refused.
    const unverified = await signUp(functions, smtp, "invited", { verified: false, email });
    const early = await functions.call("POST", "/orgs/invitations/accept", unverified.auth, {
      token,
    });
    assert.equal(early.status, 403);
    assert.equal(early.body.error.code, "email_not_verified");
    await verifyAndSignIn(functions, smtp, unverified);
    const accepted = await functions.call("POST", "/orgs/invitations/accept", unverified.auth, {
      token,
    });
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    assert.equal(accepted.body.org.id, orgId);
    assert.equal(accepted.body.org.role, "admin");
    const [added] = await auditEventsFor(accepted.headers.get("x-request-id")!);
    assert.equal(added.action, "org.member_added");
    assert.equal(added.metadata.userId, unverified.id);

    const replay = await functions.call("POST", "/orgs/invitations/accept", unverified.auth, {
      token,
    });
    assert.equal(replay.status, 400, "single use");
    assert.equal(replay.body.error.code, "invalid_token");
    const again = await functions.call("POST", `/orgs/${orgId}/invitations`, owner.auth, {
      email,
      role: "member",
    });
    assert.equal(again.status, 409, "a member is not invited again");
    assert.equal(again.body.error.code, "already_member");
  });
});

Deno.test("a stolen invitation: refused to another address, still good for its own", async () => {
  await withMailFunctions(async (functions, smtp) => {
    const owner = await signUp(functions, smtp, "theft-owner");
    const orgId = await orgOf(functions, owner);
    const thief = await signUp(functions, smtp, "thief");
    const victim = await signUp(functions, smtp, "victim");
    const invited = await functions.call("POST", `/orgs/${orgId}/invitations`, owner.auth, {
      email: victim.email,
      role: "member",
    });
    assert.equal(invited.status, 201);
    const token = tokenFromMail(await smtp.waitFor(victim.email, inviteSubject));
    recordSecret(token);

    const stolen = await functions.call("POST", "/orgs/invitations/accept", thief.auth, { token });
    assert.equal(stolen.status, 403);
    assert.equal(stolen.body.error.code, "forbidden");
    assert.doesNotMatch(stolen.body.error.message, new RegExp(victim.email), "no address told");
    const [refusal] = await auditEventsFor(stolen.headers.get("x-request-id")!);
    assert.equal(refusal.action, "org.invitation_refused");
    assert.equal(refusal.metadata.reason, "other_address");
    const thiefLooks = await functions.call("GET", `/orgs/${orgId}`, thief.auth);
    assert.equal(thiefLooks.status, 404);

    const garbage = await functions.call("POST", "/orgs/invitations/accept", thief.auth, {
      token: "x".repeat(43),
    });
    assert.equal(garbage.status, 400);
    const rightful = await functions.call("POST", "/orgs/invitations/accept", victim.auth, {
      token,
    });
    assert.equal(rightful.status, 200);
    assert.equal(rightful.body.org.role, "member");
  });
});

Deno.test("invitations: replaced by a new one, dead when expired, only by inviters, up to their role", async () => {
  await withMailFunctions(async (functions, smtp) => {
    const owner = await signUp(functions, smtp, "rules-owner");
    const orgId = await orgOf(functions, owner);
    const invitee = await signUp(functions, smtp, "rules-invitee");

    const first = await functions.call("POST", `/orgs/${orgId}/invitations`, owner.auth, {
      email: invitee.email,
    });
    assert.equal(first.status, 201);
    assert.equal(first.body.invitation.role, "member", "member unless said otherwise");
    const firstToken = tokenFromMail(await smtp.waitFor(invitee.email, inviteSubject));
    recordSecret(firstToken);
    smtp.received.splice(0);
    const second = await functions.call("POST", `/orgs/${orgId}/invitations`, owner.auth, {
      email: invitee.email,
      role: "admin",
    });
    assert.equal(second.status, 201);
    const secondToken = tokenFromMail(await smtp.waitFor(invitee.email, inviteSubject));
    recordSecret(secondToken);
    const old = await functions.call("POST", "/orgs/invitations/accept", invitee.auth, {
      token: firstToken,
    });
    assert.equal(old.status, 400, "the replaced link is dead");

    await withDatabase((sql) =>
      sql`update latchkey.org_invitations set expires_at = now() - interval '1 second'
          where token_hash = sha256(convert_to(${secondToken}, 'UTF8'))`
    );
    const expired = await functions.call("POST", "/orgs/invitations/accept", invitee.auth, {
      token: secondToken,
    });
    assert.equal(expired.status, 400, "an expired link is dead");
    assert.equal(expired.body.error.code, "invalid_token");

    // A member may not invite; nobody outside may; nobody invites above their own role.
    const memberInvite = await functions.call("POST", `/orgs/${orgId}/invitations`, owner.auth, {
      email: uniqueEmail("member-to-be"),
    });
    const memberEmail = uniqueEmail("plain-member");
    assert.equal(memberInvite.status, 201);
    const plain = await signUp(functions, smtp, "plain-member", { email: memberEmail });
    await functions.call("POST", `/orgs/${orgId}/invitations`, owner.auth, { email: memberEmail });
    const plainToken = tokenFromMail(await smtp.waitFor(memberEmail, inviteSubject));
    recordSecret(plainToken);
    const joined = await functions.call("POST", "/orgs/invitations/accept", plain.auth, {
      token: plainToken,
    });
    assert.equal(joined.status, 200);
    const byMember = await functions.call("POST", `/orgs/${orgId}/invitations`, plain.auth, {
      email: uniqueEmail("friend"),
    });
    assert.equal(byMember.status, 403, "a member cannot invite");
    const outsider = await functions.call("POST", `/orgs/${orgId}/invitations`, invitee.auth, {
      email: uniqueEmail("friend"),
    });
    assert.equal(outsider.status, 404, "a stranger cannot even see the organization");
    const [{ open }] = await withDatabase((sql) =>
      sql`select count(*)::int as open from latchkey.org_invitations
          where org_id = ${orgId} and accepted_at is null and revoked_at is null`
    );
    assert.equal(open, 2, "refused invitations wrote nothing");
  });
});

Deno.test("open invitations: inviters list them (never a token) and revoke one, whose link then dies", async () => {
  await withMailFunctions(async (functions, smtp) => {
    const owner = await signUp(functions, smtp, "revoke-owner");
    const orgId = await orgOf(functions, owner);
    const invitee = await signUp(functions, smtp, "revoke-invitee");
    const other = uniqueEmail("revoke-other");
    for (const email of [invitee.email, other]) {
      const sent = await functions.call("POST", `/orgs/${orgId}/invitations`, owner.auth, {
        email,
      });
      assert.equal(sent.status, 201);
    }
    const token = tokenFromMail(await smtp.waitFor(invitee.email, inviteSubject));
    recordSecret(token);

    // One a page, newest first; nothing that could be a token or its hash.
    const first = await functions.call("GET", `/orgs/${orgId}/invitations?limit=1`, owner.auth);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual(first.body.invitations.map((i: { email: string }) => i.email), [other]);
    assert.deepEqual(Object.keys(first.body.invitations[0]).sort(), [
      "createdAt",
      "email",
      "expiresAt",
      "id",
      "invitedBy",
      "orgId",
      "role",
    ]);
    const second = await functions.call(
      "GET",
      `/orgs/${orgId}/invitations?limit=1&cursor=${first.body.nextCursor}`,
      owner.auth,
    );
    const invitation = second.body.invitations[0];
    assert.equal(invitation.email, invitee.email);
    assert.equal(invitation.invitedBy, owner.id);
    assert.equal(second.body.nextCursor, null);

    // Someone outside sees no organization, so neither lists nor revokes.
    const outsider = await functions.call("GET", `/orgs/${orgId}/invitations`, invitee.auth);
    assert.equal(outsider.status, 404);
    const outsiderRevoke = await functions.call(
      "DELETE",
      `/orgs/${orgId}/invitations/${invitation.id}`,
      invitee.auth,
    );
    assert.equal(outsiderRevoke.status, 404);

    const revoked = await functions.call(
      "DELETE",
      `/orgs/${orgId}/invitations/${invitation.id}`,
      owner.auth,
    );
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    const events = await auditEventsFor(revoked.headers.get("x-request-id")!);
    assert.deepEqual(events.map((event) => event.action), ["org.invitation_revoked"]);
    const again = await functions.call(
      "DELETE",
      `/orgs/${orgId}/invitations/${invitation.id}`,
      owner.auth,
    );
    assert.equal(again.status, 404, "revoked once");
    const dead = await functions.call("POST", "/orgs/invitations/accept", invitee.auth, { token });
    assert.equal(dead.status, 400, `the revoked link is dead: ${JSON.stringify(dead.body)}`);
    assert.equal(dead.body.error.code, "invalid_token");
    const left = await functions.call("GET", `/orgs/${orgId}/invitations`, owner.auth);
    assert.deepEqual(left.body.invitations.map((i: { email: string }) => i.email), [other]);

    // A suspended organization's inviters change nothing.
    await withDatabase((sql) =>
      sql`update latchkey.organizations set suspended_at = now() where id = ${orgId}`
    );
    const suspended = await functions.call(
      "DELETE",
      `/orgs/${orgId}/invitations/${first.body.invitations[0].id}`,
      owner.auth,
    );
    assert.equal(suspended.status, 403);
    assert.equal(suspended.body.error.code, "org_suspended");
  });
});
