import assert from "node:assert/strict";
import { assertSamePace, pairedTimings } from "../../support/timing.ts";
import { deliverDueMail } from "../../../functions/_shared/mail/outbox.ts";
import { getRuntime } from "../../../functions/_shared/api/isolate.ts";
import { type InProcessFunctions, serveFunctions } from "../../support/in_process.ts";
import {
  startSmtpServer,
  testAppUrl,
  type TestSmtpServer,
  tokenFromMail,
  withMailFunctions,
  withMailGateway,
} from "../../support/smtp.ts";
import { auditEventsFor, uniqueEmail, withDatabase } from "../../support/http.ts";

const appUrl = testAppUrl;
const withMail = (
  work: Parameters<typeof withMailFunctions>[0],
  env: Record<string, string> = {},
) => withMailFunctions(work, { LATCHKEY_MAIL_FROM: "Latchkey <accounts@example.test>", ...env });
const resetSubject = "Reset your password";

// A new address each time (a random start, then counting): two clients drawn at random once
// shared an address, and one's forgot spent the other's per-client allowance.
let clientNumber = Math.floor(Math.random() * 30_000);
const client = () => {
  clientNumber += 1;
  return { "x-forwarded-for": `198.18.${(clientNumber >> 8) & 255}.${clientNumber & 255}` };
};

async function signUpIn(functions: InProcessFunctions, password = "the first password") {
  const email = uniqueEmail("reset");
  const created = await functions.call("POST", "/auth/sign-up/email", client(), {
    name: "Resetter",
    email,
    password,
  });
  assert.equal(created.status, 200);
  return { email, id: created.body.user.id as string, token: created.body.session.token as string };
}

Deno.test(
  "forgot → a real mail with a link → reset: new password works, every session ends",
  async () => {
    await withMail(async (functions, smtp) => {
      const account = await signUpIn(functions);
      const forgot = await functions.call("POST", "/auth/password/forgot", client(), {
        email: account.email.toUpperCase(),
      });
      assert.equal(forgot.status, 200);
      assert.deepEqual(forgot.body, { success: true });

      const mail = await smtp.waitFor(account.email, resetSubject);
      assert.equal(mail.subject, "Reset your password");
      assert.match(mail.from, /accounts@example\.test/);
      assert.ok(mail.text.includes(`${appUrl}/reset-password#token=`), mail.text);
      assert.ok(mail.html.includes(`${appUrl}/reset-password#token=`));
      const token = tokenFromMail(mail);

      // Stored as its SHA-256 only, and the delivered mail's body is scrubbed.
      const stored = await withDatabase((sql) =>
        sql`select
          (select count(*)::int from latchkey.account_tokens
            where token_hash = sha256(convert_to(${token}, 'UTF8'))) as hashed,
          (select count(*)::int from latchkey.mail_outbox
            where text_body like '%' || ${token} || '%') as plain,
          (select count(*)::int from latchkey.mail_outbox
            where recipient = ${account.email} and kind = 'password_reset'
              and delivered_at is not null) as delivered`
      );
      assert.deepEqual([...stored], [{ hashed: 1, plain: 0, delivered: 1 }]);

      const weak = await functions.call("POST", "/auth/password/reset", client(), {
        token,
        newPassword: "short",
      });
      assert.equal(weak.status, 400, "the usual password rules");
      const reset = await functions.call("POST", "/auth/password/reset", client(), {
        token,
        newPassword: "the second password",
      });
      assert.equal(reset.status, 200);
      const [event] = await auditEventsFor(reset.headers.get("x-request-id")!);
      assert.equal(event.action, "auth.password_reset");
      assert.equal(event.target_id, account.id);
      assert.equal(event.metadata.sessionsRevoked, 1);

      const old = await functions.call("GET", "/auth/session", {
        authorization: `Bearer ${account.token}`,
      });
      assert.equal(old.status, 401, "the session from before the reset is gone");
      const withOld = await functions.call("POST", "/auth/sign-in/email", client(), {
        email: account.email,
        password: "the first password",
      });
      assert.equal(withOld.status, 401);
      const withNew = await functions.call("POST", "/auth/sign-in/email", client(), {
        email: account.email,
        password: "the second password",
      });
      assert.equal(withNew.status, 200);

      const again = await functions.call("POST", "/auth/password/reset", client(), {
        token,
        newPassword: "a third password here",
      });
      assert.equal(again.status, 400, "single use");
      assert.equal(again.body.error.code, "invalid_token");
    });
  },
);

Deno.test(
  "pre-registration: whoever held the address before the owner's reset keeps no session, key or link",
  async () => {
    await withMail(async (functions, smtp) => {
      // The attacker signs up with the victim's address and a password of their own, makes a
      // key, and waits.
      const squatter = await signUpIn(functions, "the attacker's password");
      const auth = { authorization: `Bearer ${squatter.token}` };
      const key = await functions.call("POST", "/keys", auth, { name: "sleeper" });
      assert.equal(key.status, 201);
      // The victim cannot sign up, so they recover the address.
      const taken = await functions.call("POST", "/auth/sign-up/email", client(), {
        name: "Victim",
        email: squatter.email,
        password: "the victim's password",
      });
      assert.equal(taken.status, 409);
      await functions.call("POST", "/auth/password/forgot", client(), { email: squatter.email });
      const token = tokenFromMail(await smtp.waitFor(squatter.email, resetSubject));
      const reset = await functions.call("POST", "/auth/password/reset", client(), {
        token,
        newPassword: "the victim's password",
      });
      assert.equal(reset.status, 200);
      const [event] = await auditEventsFor(reset.headers.get("x-request-id")!);
      assert.deepEqual(event.metadata, {
        sessionsRevoked: 1,
        keysRevoked: 1,
        firstProofOfAddress: true,
      });

      const verified = await functions.call("POST", "/keys/verify", {}, { key: key.body.key });
      assert.equal(verified.body.code, "REVOKED", "the attacker's key is dead");
      const usedKey = await functions.call("GET", "/auth/session", { "x-api-key": key.body.key });
      assert.equal(usedKey.status, 401);
      assert.equal((await functions.call("GET", "/auth/session", auth)).status, 401);
      const [{ pending }] = await withDatabase((sql) =>
        sql<{ pending: number }[]>`
          select count(*)::int as pending from latchkey.account_tokens
          where user_id = ${squatter.id} and used_at is null`
      );
      assert.equal(pending, 0, "the sign-up's verification link died too");
    });
  },
);

Deno.test("a newer reset link kills the older one; an expired link is refused", async () => {
  await withMail(async (functions, smtp) => {
    const account = await signUpIn(functions);
    await functions.call("POST", "/auth/password/forgot", client(), { email: account.email });
    const first = tokenFromMail(await smtp.waitFor(account.email, resetSubject));
    smtp.received.length = 0;
    await functions.call("POST", "/auth/password/forgot", client(), { email: account.email });
    const second = tokenFromMail(await smtp.waitFor(account.email, resetSubject));
    assert.notEqual(first, second);
    const stale = await functions.call("POST", "/auth/password/reset", client(), {
      token: first,
      newPassword: "replaced by the newer",
    });
    assert.equal(stale.status, 400);
    await withDatabase((sql) =>
      sql`update latchkey.account_tokens set expires_at = now() - interval '1 second'
          where token_hash = sha256(convert_to(${second}, 'UTF8'))`
    );
    const expired = await functions.call("POST", "/auth/password/reset", client(), {
      token: second,
      newPassword: "too late for this one",
    });
    assert.equal(expired.status, 400);
    assert.equal(expired.body.error.code, "invalid_token");
  });
});

Deno.test(
  "forgot answers the same for unknown emails, sends them nothing, takes the same time",
  async () => {
    // The functions in a process of their own: timed from here, as a client over the network
    // times them, not sharing their event loop with the mail they send after answering.
    await withMailGateway(async (functions, smtp) => {
      // Within each address's hourly allowance (3), so every known request does the full work.
      const accounts = await Promise.all(Array.from({ length: 8 }, () => signUpIn(functions)));
      const forgot = async (email: string) => {
        const result = await functions.call("POST", "/auth/password/forgot", client(), { email });
        assert.equal(result.status, 200);
        assert.deepEqual(result.body, { success: true });
      };
      const resets = () => smtp.received.filter((mail) => mail.subject === resetSubject).length;
      // Each request timed on its own: the mail a known address gets is delivered before the
      // next is timed, so the comparison is of the answers alone.
      let known = 0;
      const timings = await pairedTimings(
        24,
        (i) => {
          known += 1;
          return forgot(accounts[i % accounts.length].email);
        },
        () => forgot(uniqueEmail("nobody")),
        {
          async between() {
            for (let i = 0; i < 100 && resets() < known; i++) {
              await new Promise((resolve) => setTimeout(resolve, 20));
            }
          },
        },
      );
      assertSamePace(timings, 0.25, 1.5);
      for (let i = 0; i < 200 && resets() < 24; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(resets(), 24, "one reset mail per request for a known address");
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(resets(), 24, "and none for the unknown ones");
      assert.ok(smtp.received.every((mail) => accounts.some((acc) => mail.to.includes(acc.email))));
    }, { LATCHKEY_MAIL_FROM: "Latchkey <accounts@example.test>" });
  },
);

Deno.test("forgot is throttled per address (silently) and per client (429)", async () => {
  // A breach-check API that counts its lookups: a throttled reset must not make one.
  let lookups = 0;
  const breachApi = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    lookups += 1;
    return new Response("");
  });
  await withMail(async (functions, smtp) => {
    const account = await signUpIn(functions);
    const stranger = client();
    for (let i = 0; i < 3; i++) {
      const result = await functions.call("POST", "/auth/password/forgot", stranger, {
        email: account.email,
      });
      assert.equal(result.status, 200);
    }
    // Every mail the three answers began is sent (or given up) once their work is settled: a
    // fixed 500 ms wait after the first mail once saw the second still on its way.
    await functions.settled();
    const resetMails = () =>
      smtp.received.filter((mail) =>
        mail.to.includes(account.email) && mail.subject === resetSubject
      ).length;
    assert.equal(resetMails(), 2, "LATCHKEY_PASSWORD_RESET_PER_EMAIL_PER_HOUR=2 per client");
    // The stranger spent their own budget for this address, not the owner's.
    const owners = await functions.call("POST", "/auth/password/forgot", client(), {
      email: account.email,
    });
    assert.equal(owners.status, 200);
    const deadline = Date.now() + 5000;
    while (resetMails() < 3 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(resetMails(), 3, "the owner's own request still sends");

    const one = client();
    const statuses = [];
    for (let i = 0; i < 6; i++) {
      statuses.push(
        (await functions.call("POST", "/auth/password/forgot", one, { email: uniqueEmail("x") }))
          .status,
      );
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429]);
    const lookupsBefore = lookups;
    const refused = await functions.call("POST", "/auth/password/reset", one, {
      token: "A".repeat(43),
      newPassword: "whatever it may be",
    });
    assert.equal(refused.status, 429, "reset shares the client's recovery allowance");
    assert.ok(Number(refused.headers.get("retry-after")) > 0);
    assert.equal(lookups, lookupsBefore, "a throttled reset makes no breach lookup (nor hash)");
    const allowed = await functions.call("POST", "/auth/password/reset", client(), {
      token: "A".repeat(43),
      newPassword: "whatever it may be",
    });
    assert.equal(allowed.status, 400);
    assert.equal(lookups, lookupsBefore + 1, "the counting API is the one consulted");
  }, {
    LATCHKEY_PASSWORD_RESET_PER_EMAIL_PER_HOUR: "2",
    LATCHKEY_RECOVERY_PER_CLIENT_PER_HOUR: "4",
    LATCHKEY_PASSWORD_BREACH_CHECK: "warn",
    LATCHKEY_PASSWORD_BREACH_API_URL: `http://127.0.0.1:${breachApi.addr.port}/range/`,
  }).finally(() => breachApi.shutdown());
});

Deno.test(
  "a mail server that is down loses nothing: the outbox retries until it is back",
  async () => {
    // A port where nothing listens yet; the server comes up there later.
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const functions = serveFunctions({
      LATCHKEY_ENV: "test",
      LATCHKEY_MAILER: `smtp://127.0.0.1:${port}`,
      LATCHKEY_APP_URL: appUrl,
    });
    let smtp: TestSmtpServer | undefined;
    try {
      const account = await signUpIn(functions);
      assert.equal(
        (await functions.call("POST", "/auth/password/forgot", client(), { email: account.email }))
          .status,
        200,
      );
      const attempted = async () =>
        (await withDatabase((sql) =>
          sql`select attempts, last_error, delivered_at from latchkey.mail_outbox
            where recipient = ${account.email} and kind = 'password_reset'`
        ))[0];
      let state = await attempted();
      // The attempt is counted when claimed and its error recorded after the send fails.
      for (let i = 0; i < 100 && (state.attempts === 0 || !state.last_error); i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        state = await attempted();
      }
      assert.equal(state.attempts, 1);
      assert.ok(state.last_error, "the failure is recorded");
      assert.equal(state.delivered_at, null);

      smtp = await startSmtpServer(port);
      // Its retry is due (as if the backoff had passed): the next sweep delivers it.
      await withDatabase((sql) =>
        sql`update latchkey.mail_outbox set next_attempt_at = now()
          where recipient = ${account.email} and kind = 'password_reset'`
      );
      const { sent } = await deliverDueMail(getRuntime());
      assert.ok(sent >= 1);
      const mail = await smtp.waitFor(account.email, resetSubject);
      assert.ok(tokenFromMail(mail));
      assert.ok((await attempted()).delivered_at);
    } finally {
      await functions.close();
      await smtp?.close();
    }
  },
);

Deno.test("a message given up on is audited as mail.delivery_failed for admins", async () => {
  const functions = serveFunctions({
    LATCHKEY_ENV: "test",
    LATCHKEY_MAILER: "smtp://127.0.0.1:9",
    LATCHKEY_APP_URL: appUrl,
  });
  try {
    const account = await signUpIn(functions);
    await functions.call("POST", "/auth/password/forgot", client(), { email: account.email });
    for (let attempt = 0; attempt < 8; attempt++) {
      await withDatabase((sql) =>
        sql`update latchkey.mail_outbox set next_attempt_at = now()
            where recipient = ${account.email} and kind = 'password_reset' and failed_at is null`
      );
      await deliverDueMail(getRuntime());
    }
    const [row] = await withDatabase((sql) =>
      sql`select attempts, failed_at, text_body from latchkey.mail_outbox
          where recipient = ${account.email} and kind = 'password_reset'`
    );
    assert.equal(row.attempts, 8);
    assert.ok(row.failed_at);
    assert.equal(row.text_body, null, "scrubbed once given up on");
    const events = await withDatabase((sql) =>
      sql`select metadata from latchkey.audit_events
          where action = 'mail.delivery_failed' and metadata ->> 'recipient' = ${account.email}`
    );
    assert.equal(events.length, 1);
    assert.equal(events[0].metadata.attempts, 8);
  } finally {
    await functions.close();
  }
});

Deno.test("without a mailer (LATCHKEY_MAILER=none) forgot and resend answer 501 and write nothing", async () => {
  const functions = serveFunctions({ LATCHKEY_ENV: "test", LATCHKEY_MAILER: "none" });
  try {
    const account = await signUpIn(functions);
    const forgot = await functions.call("POST", "/auth/password/forgot", client(), {
      email: account.email,
    });
    assert.equal(forgot.status, 501);
    assert.equal(forgot.body.error.code, "not_configured");
    const resend = await functions.call("POST", "/auth/email/resend", {
      ...client(),
      authorization: `Bearer ${account.token}`,
    });
    assert.equal(resend.status, 501);
    const [{ rows }] = await withDatabase((sql) =>
      sql`select count(*)::int as rows from latchkey.mail_outbox where recipient = ${account.email}`
    );
    assert.equal(rows, 0);
  } finally {
    await functions.close();
  }
});
