import assert from "node:assert/strict";
import { startTestServer, type TestServer } from "../support/server.ts";
import { ensureJq, which } from "../support/tools.ts";

/**
 * README.md's "Quick start" and "Your first admin", run as a newcomer runs them, so they cannot
 * rot: every ```sh block of the two sections, in order, with bash (`set -euo pipefail`: each
 * command must exit 0), from the checkout, against a real server on the embedded default (no
 * DATABASE_URL, as the README has it) with a data directory of its own.
 *
 * The only liberties taken, all here:
 * - `deno task start` is not run: the test's server stands in for it (the same entry point and
 *   Deno flags), (re)started with the variables the block exported before that line.
 * - Commands beginning as in `notRun` are not run, each for the reason given there; the test
 *   prints every command it leaves out.
 * - `localhost:54321` becomes the test server's address, and `.latchkey/` its data directory.
 * - Each block starts from the same environment, as a fresh terminal would: PATH with the Deno
 *   running this test first (what the README's `export PATH=…` gives), HOME a temporary
 *   directory (so `~/terraform.key` lands there; DENO_DIR stays the real cache), and
 *   LATCHKEY_DATA_DIR the server's, so the tasks find the running server as they find
 *   `.latchkey/` in a checkout. Variables a block exports last until the end of that block.
 */

const root = new URL("../../", import.meta.url).pathname;
const readme = await Deno.readTextFile(`${root}README.md`);

/** Commands the test does not run, by how they begin, and why. */
const notRun: { begins: RegExp; why: string; when?: () => Promise<boolean> }[] = [
  {
    begins: /^npm install\b/,
    why: "installs Deno into ~/.latchkey-deno; the test runs the Deno that runs it",
  },
  { begins: /^deno task test\b/, why: "the whole suite: a test cannot run the suite it is in" },
  {
    begins: /^psql\b/,
    why: "no psql on PATH on this machine",
    when: async () => !(await which("psql")),
  },
];
const startsServer = /^deno task start\b/;

/** The ```sh blocks of the section under a `## ` heading. */
function shellBlocks(heading: string): string[] {
  const start = readme.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `README.md has a "## ${heading}" section`);
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((match) => match[1]);
}

/** The prose of a section (its code blocks left out). */
function sectionProse(heading: string): string {
  const start = readme.indexOf(`\n## ${heading}\n`);
  const end = readme.indexOf("\n## ", start + 1);
  return readme.slice(start, end < 0 ? undefined : end).replace(/^```[\s\S]*?^```$/gm, "");
}

/** A block's commands, a command's continuation lines (ending in `\`) joined to it. */
function commands(block: string): string[] {
  const result: string[] = [];
  let current = "";
  for (const line of block.split("\n")) {
    current += (current ? "\n" : "") + line;
    if (!line.endsWith("\\")) {
      if (current.trim()) result.push(current);
      current = "";
    }
  }
  if (current.trim()) result.push(current);
  return result;
}

async function denoDir(): Promise<string> {
  const fromEnv = Deno.env.get("DENO_DIR");
  if (fromEnv) return fromEnv;
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "null",
  }).output();
  return JSON.parse(new TextDecoder().decode(info.stdout)).denoDir;
}

/** Network and certificate settings a fresh terminal on this machine would have too. */
function passedThrough(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([name]) =>
      /^(https?_proxy|no_proxy|npm_config_\w+|deno_cert|deno_tls_ca_store|lang|lc_\w+)$/i
        .test(name)
    ),
  );
}

interface Run {
  /** Everything the blocks printed on stdout, block after block. */
  stdout: string;
  server: TestServer;
}

Deno.test({
  name: "the README's Quick start and Your first admin run as written against a started server",
  sanitizeResources: false,
  async fn(t) {
    assert.ok(await ensureJq(), "the README's commands need jq: apt-get install jq");
    for (const tool of ["bash", "curl", "openssl"]) {
      assert.ok(await which(tool), `the README's commands need ${tool}: apt-get install ${tool}`);
    }

    const dataDir = await Deno.makeTempDir({ prefix: "latchkey-readme-data-" });
    const home = await Deno.makeTempDir({ prefix: "latchkey-readme-home-" });
    const denoDirectory = await denoDir();
    const freshTerminal: Record<string, string> = {
      ...passedThrough(),
      PATH: `${Deno.execPath().replace(/\/[^/]*$/, "")}:${Deno.env.get("PATH")}`,
      HOME: home,
      DENO_DIR: denoDirectory,
      LATCHKEY_DATA_DIR: dataDir,
      NO_COLOR: "1",
    };
    let server: TestServer | undefined;
    let firstBanner = "";

    /** `deno task start`, as the test's server, with what the block exported so far. */
    const start = async (exported: Record<string, string>) => {
      await server?.stop();
      const fromBlock = Object.fromEntries(
        Object.entries(exported).filter(([name]) => name.startsWith("LATCHKEY_")),
      );
      server = await startTestServer("", {
        // The newcomer's default, not the suite's "test".
        LATCHKEY_ENV: "development",
        ...fromBlock,
        LATCHKEY_DATA_DIR: dataDir,
      });
      firstBanner ||= await Deno.readTextFile(server.logPath);
    };

    /** One block: its commands in bash, `deno task start` handed to `start`. */
    const runBlock = async (block: string): Promise<string> => {
      let env = { ...freshTerminal };
      let stdout = "";
      const pending: string[] = [];
      const flush = async () => {
        if (!pending.length) return;
        // Before the first start there is no server yet (`export PATH=…`): nothing to point at.
        const address = server ? new URL(server.baseUrl).host : "localhost:54321";
        const script = pending.join("\n")
          .replaceAll("localhost:54321", address)
          .replaceAll(".latchkey/", `${dataDir}/`);
        pending.length = 0;
        const envFile = await Deno.makeTempFile({ prefix: "latchkey-readme-env-" });
        const output = await new Deno.Command("bash", {
          args: ["-c", `set -euo pipefail\n${script}\nenv -0 > "$1"`, "bash", envFile],
          cwd: root,
          clearEnv: true,
          env,
          stdout: "piped",
          stderr: "piped",
        }).output();
        const decoder = new TextDecoder();
        const out = decoder.decode(output.stdout);
        const err = decoder.decode(output.stderr);
        assert.equal(
          output.code,
          0,
          `this README command block failed (exit ${output.code}):\n${script}\n` +
            `--- stdout\n${out}\n--- stderr\n${err}\n--- server log: ${server?.logPath}`,
        );
        stdout += out;
        env = Object.fromEntries(
          (await Deno.readTextFile(envFile)).split("\0").filter(Boolean).map((entry) => {
            const at = entry.indexOf("=");
            return [entry.slice(0, at), entry.slice(at + 1)];
          }),
        );
        await Deno.remove(envFile);
      };
      for (const command of commands(block)) {
        const text = command.trim();
        if (startsServer.test(text)) {
          await flush();
          await start(env);
          continue;
        }
        const rule = notRun.find((rule) => rule.begins.test(text));
        if (rule && (!rule.when || await rule.when())) {
          console.log(`not run: ${text.split("\n")[0]} (${rule.why})`);
          continue;
        }
        pending.push(command);
      }
      await flush();
      return stdout;
    };

    const runSection = async (heading: string): Promise<Run> => {
      const blocks = shellBlocks(heading);
      assert.ok(blocks.length >= 2, `"${heading}" has its commands in sh blocks`);
      let stdout = "";
      for (const block of blocks) stdout += await runBlock(block);
      return { stdout, server: server! };
    };

    try {
      await t.step("Quick start", async () => {
        const { stdout, server } = await runSection("Quick start");
        assert.match(stdout, /"version": "0\.1\.0"/);
        assert.equal(
          stdout.match(/"email": "ada@example\.com"/g)?.length,
          2,
          `sign-up answers the user, and the sign-in's token reads the session:\n${stdout}`,
        );
        assert.doesNotMatch(stdout, /^null$/m, "no answer the README pipes through jq is empty");
        assert.match(stdout, /"success": true/, "sign-out");

        // The addresses it gives for the console and the API reference answer.
        const links = [
          ...sectionProse("Quick start").matchAll(/<(http:\/\/localhost:54321[^>]*)>/g),
        ]
          .map((match) => match[1]);
        assert.ok(links.some((link) => link.endsWith("/functions/v1/console/")), "console URL");
        assert.ok(links.some((link) => link.endsWith("/functions/v1/docs")), "docs URL");
        for (const link of links) {
          const response = await fetch(link.replace("http://localhost:54321", server.baseUrl));
          await response.body?.cancel();
          assert.equal(response.status, 200, link);
        }

        // The banner sample has the lines the start prints, and today's count of migrations.
        const sample = /^```\n\$ deno task start\n([\s\S]*?)^```$/m.exec(readme)?.[1];
        assert.ok(sample, "Quick start shows the banner after `$ deno task start`");
        const labels = (text: string) => [...text.matchAll(/^ {2}(\w+) {2,}/gm)].map((m) => m[1]);
        assert.deepEqual(labels(sample!), labels(firstBanner), firstBanner);
        const applied = (text: string) => /migrations {2}(\d+) applied now/.exec(text)?.[1];
        assert.ok(applied(firstBanner), firstBanner);
        assert.equal(applied(sample!), applied(firstBanner), "the banner's count of migrations");
      });

      await t.step("Your first admin", async () => {
        const { stdout } = await runSection("Your first admin");
        // A password alone is refused the admin routes, enrolment named; a verified code lets in.
        assert.match(stdout, /\{"code":"mfa_required","nextRoute":"POST \/auth\/factors\/totp"\}/);
        assert.match(stdout, /\{"aal":"aal2","recoveryCodes":10\}/);
        assert.equal((await Deno.stat(`${home}/ops-totp.uri`)).mode! & 0o777, 0o600);
        assert.match(stdout, /\{"email":"ops@example\.com","role":"admin"\}/, stdout);
        assert.match(stdout, /ada@example\.com is now admin/);
        assert.match(stdout, /service account terraform: new admin key .*\(mode 0600\)/);
        // The service account's key lists the users, Ada an admin now.
        assert.match(stdout, /\{"email":"ada@example\.com","role":"admin"\}/);
        assert.equal((await Deno.stat(`${home}/terraform.key`)).mode! & 0o777, 0o600);
        if (await which("psql")) assert.match(stdout, /ada@example\.com\s*\|\s*admin/);
      });
    } finally {
      await server?.stop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
      await Deno.remove(home, { recursive: true }).catch(() => {});
    }
  },
});
