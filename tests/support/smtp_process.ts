// deno-lint-ignore no-import-prefix -- test-only, so not in deno.json (docs/testing.md, lockfiles)
import { type AddressObject, simpleParser } from "npm:mailparser@3.14.2";
import type { Readable } from "node:stream";
// deno-lint-ignore no-import-prefix -- test-only, so not in deno.json (docs/testing.md, lockfiles)
import { SMTPServer } from "npm:smtp-server@3.21.6";

/**
 * The test SMTP server as a process of its own (`deno run tests/support/smtp_process.ts
 * <port>`): smtp-server from npm, with each accepted message parsed by mailparser and written
 * to stdout as one JSON line, after a first line `LISTENING <port>`. Out of the test process,
 * so the process that sends (the functions) holds no server sockets of the test's.
 */

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ["STARTTLS"],
  logger: false,
  // No reverse DNS of 127.0.0.1: this machine has no resolver to ask.
  disableReverseLookup: true,
  onData(stream: Readable, _session: unknown, done: (error?: Error) => void) {
    simpleParser(stream).then((mail) => {
      const addresses = (value: AddressObject | AddressObject[] | undefined) =>
        [value ?? []].flat().map((address) => address.text).join(", ");
      console.log(JSON.stringify({
        to: addresses(mail.to),
        from: addresses(mail.from),
        subject: mail.subject ?? "",
        text: mail.text ?? "",
        html: typeof mail.html === "string" ? mail.html : "",
      }));
      done();
    }, done);
  },
});
server.listen(Number(Deno.args[0] ?? 0), "127.0.0.1", () => {
  console.log(`LISTENING ${(server.server.address() as { port: number }).port}`);
});
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
