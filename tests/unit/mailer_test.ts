import assert from "node:assert/strict";
import { ConfigError, loadConfig, mailerTarget } from "../../functions/_shared/config/config.ts";
import { hmacSha256Hex } from "../../functions/_shared/ground/crypto.ts";
import { startSmtpServer } from "../support/smtp.ts";
import {
  mailerFor,
  webhookSignature,
  webhookSignatureHeader,
} from "../../functions/_shared/mail/mailer.ts";

const secret = "a webhook secret of at least 32 characters";

Deno.test("LATCHKEY_MAILER: log by default outside production, none in it, log refused there", () => {
  assert.equal(mailerTarget(loadConfig({})), "log");
  assert.equal(mailerTarget(loadConfig({ LATCHKEY_ENV: "production" })), "none");
  assert.equal(mailerFor(loadConfig({ LATCHKEY_ENV: "production" })), null);
  assert.throws(
    () => loadConfig({ LATCHKEY_ENV: "production", LATCHKEY_MAILER: "log" }),
    (error) => error instanceof ConfigError && /LATCHKEY_MAILER/.test(error.message),
  );
  for (const bad of ["ftp://x", "http://mail.example.com/hook", "smtp:", "mailer"]) {
    assert.throws(() => loadConfig({ LATCHKEY_MAILER: bad }), ConfigError, bad);
  }
  assert.throws(
    () => loadConfig({ LATCHKEY_MAILER: "https://mail.example.com/hook" }),
    (error) => error instanceof ConfigError && /WEBHOOK_SECRET/.test(error.message),
  );
  for (
    const good of [
      "smtp://user:pass@smtp.example.com:2587",
      "smtps://smtp.example.com:465",
      "http://127.0.0.1:8025/hook",
    ]
  ) {
    assert.equal(
      mailerTarget(loadConfig({ LATCHKEY_MAILER: good, LATCHKEY_MAILER_WEBHOOK_SECRET: secret })),
      good,
    );
  }
});

Deno.test("the webhook mailer posts {to, subject, text, html, kind} signed so the receiver can check it", async () => {
  const deliveries: { body: string; signature: string | null }[] = [];
  let answer = 500;
  const receiver = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      deliveries.push({
        body: await request.text(),
        signature: request.headers.get(webhookSignatureHeader),
      });
      return new Response(null, { status: answer });
    },
  );
  try {
    const mailer = mailerFor(loadConfig({
      LATCHKEY_MAILER: `http://127.0.0.1:${receiver.addr.port}/mail`,
      LATCHKEY_MAILER_WEBHOOK_SECRET: secret,
    }))!;
    const message = {
      to: "ada@example.com",
      subject: "Reset your password",
      text: "the link",
      html: "<p>the link</p>",
      kind: "password_reset" as const,
    };
    await assert.rejects(() => mailer.send(message), /500/, "a failed delivery throws (retried)");
    answer = 204;
    await mailer.send(message);
    const { body, signature } = deliveries[1];
    assert.deepEqual(JSON.parse(body), message);
    // What a receiver does: recompute the HMAC over `<t>.<body>` and compare.
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(signature!)!;
    assert.equal(v1, hmacSha256Hex(secret, `${t}.${body}`));
    assert.ok(Math.abs(Number(t) - Date.now() / 1000) < 60);
    assert.equal(signature, webhookSignature(secret, Number(t), body));
    assert.notEqual(v1, hmacSha256Hex("another secret of at least 32 chars!", `${t}.${body}`));
  } finally {
    await receiver.shutdown();
  }
});

Deno.test("in production smtp:// sends nothing to a server that offers no STARTTLS", async () => {
  // The test server offers no STARTTLS (tests/support/smtp_process.ts), like the attacker's
  // man in the middle who strips it.
  const smtp = await startSmtpServer();
  const message = {
    to: "ada@example.com",
    subject: "Reset your password",
    text: "the link",
    html: "<p>the link</p>",
    kind: "password_reset" as const,
  };
  try {
    const production = mailerFor(
      loadConfig({ LATCHKEY_ENV: "production", LATCHKEY_MAILER: smtp.url }),
    )!;
    await assert.rejects(() => production.send(message), /STARTTLS/);
    production.close?.();
    const development = mailerFor(loadConfig({ LATCHKEY_MAILER: smtp.url }))!;
    await development.send(message);
    development.close?.();
    await smtp.waitFor("ada@example.com");
    assert.equal(smtp.received.length, 1, "only the development mailer delivered");
    assert.throws(
      () =>
        loadConfig({ LATCHKEY_ENV: "production", LATCHKEY_MAILER: `${smtp.url}?ignoreTLS=true` }),
      (error) => error instanceof ConfigError && /STARTTLS/.test(error.message),
    );
  } finally {
    await smtp.close();
  }
});

Deno.test("a mail server that stalls fails the send within LATCHKEY_MAILER_TIMEOUT_MS", async () => {
  // Accepts the connection and never greets, as a wedged SMTP relay does.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) accepted.push(conn);
  })();
  const mailer = mailerFor(loadConfig({
    LATCHKEY_MAILER: `smtp://127.0.0.1:${listener.addr.port}`,
    LATCHKEY_MAILER_TIMEOUT_MS: "1000",
  }))!;
  try {
    const started = performance.now();
    await assert.rejects(() =>
      mailer.send({
        to: "ada@example.com",
        subject: "Reset your password",
        text: "the link",
        html: "<p>the link</p>",
        kind: "password_reset",
      })
    );
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 900 && elapsed < 5000, `failed after ${elapsed.toFixed(0)} ms`);
    assert.equal(accepted.length, 1, "it did connect: the stall was the server's");
  } finally {
    mailer.close?.();
    listener.close();
    await accepting.catch(() => {});
    for (const conn of accepted) {
      try {
        conn.close();
      } catch {
        // Closed by the client's timeout.
      }
    }
  }
});
