import nodemailer from "nodemailer";
import { type Config, mailerTarget, type NotificationKind } from "../config/config.ts";
import { hmacSha256Hex } from "../ground/crypto.ts";
import { fetchTextWithin } from "../ground/fetch_within.ts";
import { log } from "../config/log.ts";

/** Account mail with a link, and the notifications queued in SQL (LATCHKEY_NOTIFY). */
export type MailKind =
  | "password_reset"
  | "email_verification"
  | "org_invitation"
  | NotificationKind;

/** One message as the outbox keeps it and every mailer sends it. */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
  kind: MailKind;
}

/** Delivers one message or throws; the outbox retries what throws. */
export interface Mailer {
  send(message: MailMessage): Promise<void>;
  close?(): void;
}

/** The header a webhook receiver checks: `t=<unix seconds>,v1=<hex HMAC-SHA256>`. */
export const webhookSignatureHeader = "X-Latchkey-Signature";

/**
 * The signature of a webhook delivery: HMAC-SHA256 with LATCHKEY_MAILER_WEBHOOK_SECRET over
 * `<t>.<body>`, so a receiver can tell the body came from us and is fresh (reject old `t`).
 */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${hmacSha256Hex(secret, `${timestamp}.${body}`)}`;
}

/** `log`: development only (config refuses it in production); the message, link included. */
const logMailer: Mailer = {
  send(message) {
    log("info", "mail_logged", {
      to: message.to,
      kind: message.kind,
      subject: message.subject,
      text: message.text,
    });
    return Promise.resolve();
  },
};

/**
 * `smtps://` is TLS from the first byte; `smtp://` upgrades with STARTTLS when the server offers
 * it. In production (`requireTls`) a server that does not offer it gets nothing: the password
 * and the links would go in clear text. A URL's own TLS settings cannot turn that off (config
 * refuses them, and ours are applied last).
 */
function smtpMailer(url: string, from: string, requireTls: boolean, timeoutMs: number): Mailer {
  const transport = nodemailer.createTransport({
    url,
    ...(requireTls && url.startsWith("smtp://") ? { requireTLS: true } : {}),
    // nodemailer waits 2 minutes to connect, 30 s for the greeting and 10 minutes for any
    // answer unless told otherwise.
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  }, { from });
  return {
    async send(message) {
      // The whole exchange is bounded here too: nodemailer's timers sit on the socket, which
      // Deno's node:net emulation drives, and a send that outlives them would hold the outbox.
      await withinMs(
        transport.sendMail({
          to: message.to,
          subject: message.subject,
          text: message.text,
          html: message.html,
          headers: { "X-Latchkey-Kind": message.kind },
        }),
        timeoutMs,
        `the SMTP server did not finish within ${timeoutMs} ms`,
      );
    },
    close: () => transport.close(),
  };
}

/** `work`, or a rejection with `message` once `ms` have passed. */
async function withinMs<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => timer = setTimeout(() => reject(new Error(message)), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function webhookMailer(url: string, secret: string, timeoutMs: number): Mailer {
  return {
    async send(message) {
      const body = JSON.stringify(message);
      const signature = webhookSignature(secret, Math.floor(Date.now() / 1000), body);
      const response = await fetchTextWithin(url, {
        method: "POST",
        headers: { "content-type": "application/json", [webhookSignatureHeader]: signature },
        body,
      }, timeoutMs);
      if (!response.ok) throw new Error(`the webhook answered ${response.status}`);
    },
  };
}

const mailers = new WeakMap<Config, Mailer>();

/** The configured mailer (LATCHKEY_MAILER), one per configuration; null for `none`. */
export function mailerFor(config: Config): Mailer | null {
  const target = mailerTarget(config);
  if (target === "none") return null;
  let mailer = mailers.get(config);
  if (!mailer) {
    mailer = target === "log" ? logMailer : target.startsWith("smtp")
      ? smtpMailer(
        target,
        config.LATCHKEY_MAIL_FROM,
        config.LATCHKEY_ENV === "production",
        config.LATCHKEY_MAILER_TIMEOUT_MS,
      )
      : webhookMailer(
        target,
        config.LATCHKEY_MAILER_WEBHOOK_SECRET!,
        config.LATCHKEY_MAILER_TIMEOUT_MS,
      );
    mailers.set(config, mailer);
  }
  return mailer;
}
