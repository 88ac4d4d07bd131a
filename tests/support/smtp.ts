import { type AddressObject, simpleParser } from "mailparser";
import type { Readable } from "node:stream";
import { SMTPServer } from "smtp-server";

/** A message the test SMTP server accepted, parsed as a mail client would. */
export interface ReceivedMail {
  to: string;
  from: string;
  subject: string;
  text: string;
  html: string;
  headers: Map<string, unknown>;
}

/**
 * A real SMTP server (smtp-server from npm, the one nodemailer's authors keep) on a free local
 * port, storing what it accepts. `url` is what LATCHKEY_MAILER takes.
 */
export interface TestSmtpServer {
  url: string;
  port: number;
  received: ReceivedMail[];
  /** Resolves with the first message to `to` (with that subject, if given), waiting up to `ms`. */
  waitFor(to: string, subject?: string, ms?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

export async function startSmtpServer(port = 0): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream: Readable, _session: unknown, done: (error?: Error) => void) {
      simpleParser(stream).then((mail) => {
        const addresses = (value: AddressObject | AddressObject[] | undefined) =>
          [value ?? []].flat().map((address) => address.text).join(", ");
        received.push({
          to: addresses(mail.to),
          from: addresses(mail.from),
          subject: mail.subject ?? "",
          text: mail.text ?? "",
          html: typeof mail.html === "string" ? mail.html : "",
          headers: mail.headers,
        });
        done();
      }, done);
    },
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", () => resolve()));
  const actualPort = (server.server.address() as { port: number }).port;
  return {
    url: `smtp://127.0.0.1:${actualPort}`,
    port: actualPort,
    received,
    async waitFor(to, subject, ms = 10_000) {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        const mail = received.find((message) =>
          message.to.includes(to) && (subject === undefined || message.subject === subject)
        );
        if (mail) return mail;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`no mail to ${to} within ${ms} ms`);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The token of a link's `#token=` fragment in a mail's text. */
export function tokenFromMail(mail: ReceivedMail): string {
  const match = /#token=([A-Za-z0-9_-]+)/.exec(mail.text);
  if (!match) throw new Error(`no link with a token in: ${mail.text}`);
  return match[1];
}
