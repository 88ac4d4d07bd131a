import { type InProcessFunctions, jsonCaller, serveFunctions } from "./in_process.ts";
import { testsLockFlag } from "./deno_run.ts";
import { startTestServer } from "./server.ts";

/** A message the test SMTP server accepted, parsed as a mail client would. */
export interface ReceivedMail {
  to: string;
  from: string;
  subject: string;
  text: string;
  html: string;
}

/**
 * A real SMTP server (smtp-server from npm, the one nodemailer's authors keep) on a local
 * port, in a process of its own (tests/support/smtp_process.ts), reporting what it accepts.
 * `url` is what LATCHKEY_MAILER takes. (In the test process, Deno 2.1's test runner ended
 * every run that had sent it mail with "Promise resolution is still pending" after all tests
 * passed; out of it, the same tests pass on 2.1 too.)
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
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      testsLockFlag,
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-sys",
      new URL("./smtp_process.ts", import.meta.url).pathname,
      String(port),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let listening: (port: number) => void = () => {};
  const ready = new Promise<number>((resolve) => listening = resolve);
  // Reads the child's lines for as long as it runs: the port first, then one mail a line.
  const reading = (async () => {
    let buffered = "";
    while (true) {
      const { value, done } = await lines.read();
      if (done) return;
      buffered += value;
      let newline;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.startsWith("LISTENING ")) listening(Number(line.slice(10)));
        else if (line.startsWith("{")) received.push(JSON.parse(line));
      }
    }
  })();
  // NaN when the child ends before it listens.
  const actualPort = await Promise.race([ready, child.status.then(() => NaN)]);
  if (Number.isNaN(actualPort)) throw new Error("the test SMTP server exited at start");
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
    async close() {
      child.kill("SIGTERM");
      await child.status;
      await reading;
    },
  };
}

/** The token of a link's `#token=` fragment in a mail's text. */
export function tokenFromMail(mail: ReceivedMail): string {
  const match = /#token=([A-Za-z0-9_-]+)/.exec(mail.text);
  if (!match) throw new Error(`no link with a token in: ${mail.text}`);
  return match[1];
}

/** The front end the test links point to. */
export const testAppUrl = "https://app.example.test";

/** Mail through `smtp`, links to the test app, and one proxy hop, so tests name their clients. */
function mailingEnv(smtp: TestSmtpServer): Record<string, string> {
  return {
    LATCHKEY_TRUSTED_PROXY_HOPS: "1",
    LATCHKEY_MAILER: smtp.url,
    LATCHKEY_APP_URL: testAppUrl,
  };
}

/**
 * The functions in this process with a real SMTP server as their mailer (and one proxy hop, so
 * tests name their clients), for `work`; both are closed afterwards.
 */
export async function withMailFunctions(
  work: (functions: InProcessFunctions, smtp: TestSmtpServer) => Promise<void>,
  env: Record<string, string> = {},
): Promise<void> {
  const smtp = await startSmtpServer();
  const functions = serveFunctions({ LATCHKEY_ENV: "test", ...mailingEnv(smtp), ...env });
  try {
    await work(functions, smtp);
  } finally {
    await functions.close();
    await smtp.close();
  }
}

/**
 * As withMailFunctions, but the functions are a gateway process of their own (`deno task
 * start`), for tests that time answers: a client in the functions' own process shares their
 * event loop with the work they begin after answering (a mail being sent), and would time that
 * too, which no client over the network sees.
 */
export async function withMailGateway(
  work: (functions: InProcessFunctions, smtp: TestSmtpServer) => Promise<void>,
  env: Record<string, string> = {},
): Promise<void> {
  const smtp = await startSmtpServer();
  const server = await startTestServer(Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!, {
    ...mailingEnv(smtp),
    LATCHKEY_LOG_LEVEL: "warn",
    ...env,
  });
  const base = `${server.baseUrl}/functions/v1`;
  const client = Deno.createHttpClient({});
  try {
    await work({
      base,
      call: jsonCaller(base, client),
      fetch: (input, init) => fetch(input, { ...init, client }),
      // Its work after answers is its own process's; the tests wait for what it sends instead.
      settled: () => Promise.resolve(),
      close: () => server.stop(),
    }, smtp);
  } finally {
    client.close();
    await server.stop();
    await smtp.close();
  }
}
