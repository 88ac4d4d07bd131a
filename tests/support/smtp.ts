import { type AddressObject, simpleParser } from "mailparser";
import type { Readable } from "node:stream";
import { type InProcessFunctions, serveFunctions } from "./in_process.ts";
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
    // No reverse DNS of 127.0.0.1 (this machine has no resolver to ask): the greeting would wait
    // on smtp-server's unref'd 1.5-s timer, which Deno 2.1 does not wait for.
    disableReverseLookup: true,
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
  // Closing waits for open connections (up to smtp-server's closeTimeout, on an unref'd timer
  // that Deno 2.1 does not wait for): the test's close ends them itself.
  const sockets = new Set<{ destroy(): void; once(event: string, listener: () => void): void }>();
  server.server.on(
    "connection",
    (socket: { destroy(): void; once(e: string, l: () => void): void }) => {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
    },
  );
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
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** The token of a link's `#token=` fragment in a mail's text. */
export function tokenFromMail(mail: ReceivedMail): string {
  const match = /#token=([A-Za-z0-9_-]+)/.exec(mail.text);
  if (!match) throw new Error(`no link with a token in: ${mail.text}`);
  return match[1];
}

/**
 * Deno 2.1's test runner ends a run in which nodemailer sent mail to this server in-process
 * with "Promise resolution is still pending but the event loop has already resolved", after
 * every test passed (Deno 2.9 does not). Until that is found, the tests that deliver real mail
 * run on the pinned Deno only, and are reported as skipped (ignored) on 2.1.
 */
export const realMailTestsIgnored = Deno.version.deno.startsWith("2.1.");

/** A test that delivers real mail through this server (see `realMailTestsIgnored`). */
export function realMailTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: realMailTestsIgnored, fn });
}

/** The front end the test links point to. */
export const testAppUrl = "https://app.example.test";

/**
 * The functions in this process with a real SMTP server as their mailer (and one proxy hop, so
 * tests name their clients), for `work`; both are closed afterwards.
 */
export async function withMailFunctions(
  work: (functions: InProcessFunctions, smtp: TestSmtpServer) => Promise<void>,
  env: Record<string, string> = {},
): Promise<void> {
  const smtp = await startSmtpServer();
  const functions = serveFunctions({
    LATCHKEY_ENV: "test",
    LATCHKEY_TRUSTED_PROXY_HOPS: "1",
    LATCHKEY_MAILER: smtp.url,
    LATCHKEY_APP_URL: testAppUrl,
    ...env,
  });
  try {
    await work(functions, smtp);
  } finally {
    await functions.close();
    await smtp.close();
  }
}
