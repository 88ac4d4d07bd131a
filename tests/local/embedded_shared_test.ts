import assert from "node:assert/strict";
import postgres from "postgres";
import { sharedBuffers } from "../../functions/_local/embedded_database.ts";
import { findPostgresBinaries } from "../support/database.ts";
import { runDeno } from "../support/deno_run.ts";
import { startTestServer, type TestServer } from "../support/server.ts";

/**
 * The embedded default as a newcomer uses it: `deno task start` with no DATABASE_URL, then the
 * README's tasks and psql beside it. One process opens PGlite's files and serves them; tasks
 * reach the same database through it, so what they write is seen at once and kept.
 */

const password = "correct horse battery staple";

// No DATABASE_URL: the embedded default, as in Quick start.
const deno = (args: string[], dataDir: string) => runDeno(args, { LATCHKEY_DATA_DIR: dataDir });

const task = (name: string, args: string[], dataDir: string) =>
  deno(["task", "--quiet", name, "--", ...args], dataDir);

function embeddedServer(dataDir: string): Promise<TestServer> {
  return startTestServer("", { LATCHKEY_DATA_DIR: dataDir, LATCHKEY_LOG_LEVEL: "warn" });
}

async function call(server: TestServer, method: string, path: string, init: {
  body?: unknown;
  headers?: Record<string, string>;
} = {}) {
  const response = await fetch(`${server.baseUrl}/functions/v1${path}`, {
    method,
    headers: { "content-type": "application/json", ...init.headers },
    body: init.body ? JSON.stringify(init.body) : undefined,
  });
  return { status: response.status, body: await response.json() };
}

const signIn = (server: TestServer, email: string) =>
  call(server, "POST", "/auth/sign-in/email", { body: { email, password } });

Deno.test({
  name:
    "tasks and psql beside a running embedded server reach its database; it all survives a restart",
  sanitizeResources: false,
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "latchkey-embedded-" });
    let server: TestServer | undefined = await embeddedServer(dataDir);
    try {
      const holder = JSON.parse(await Deno.readTextFile(`${dataDir}/embedded-database.json`));
      assert.equal(holder.pid, server.pid);
      assert.equal(holder.holder, "deno task start");
      assert.match(holder.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
      assert.ok(
        (await Deno.readTextFile(server.logPath)).includes(`psql ${holder.url}`),
        "the banner prints the URL",
      );

      const ada = "ada@example.com";
      const signedUp = await call(server, "POST", "/auth/sign-up/email", {
        body: { name: "Ada", email: ada, password },
      });
      assert.equal(signedUp.status, 200);
      assert.equal(signedUp.body.user.role, "user");

      // promote: at once, through the server's database.
      const promoted = await task("promote", [ada, "--role", "admin"], dataDir);
      assert.equal(promoted.code, 0, promoted.stderr);
      const asAdmin = await signIn(server, ada);
      assert.equal(asAdmin.body.user.role, "admin", "the server sees the promotion at once");

      // bootstrap: the service account's key works on the admin routes at once.
      const keyFile = `${dataDir}/terraform.key`;
      const boot = await task(
        "bootstrap",
        ["--service-account", "terraform", "--out", keyFile],
        dataDir,
      );
      assert.equal(boot.code, 0, boot.stderr);
      const key = (await Deno.readTextFile(keyFile)).trim();
      const users = await call(server, "GET", "/admin/users", { headers: { "x-api-key": key } });
      assert.equal(users.status, 200, JSON.stringify(users.body));

      // psql (or any client) with the printed URL reads the same users.
      const bin = await findPostgresBinaries();
      if (bin) {
        const psql = await new Deno.Command(`${bin}/psql`, {
          args: [holder.url, "-At", "-c", "select email, role from latchkey.users order by email"],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.ok(psql.success, new TextDecoder().decode(psql.stderr));
        assert.match(new TextDecoder().decode(psql.stdout), /ada@example\.com\|admin/);
      }
      const sql = postgres(holder.url, { max: 1, prepare: false, onnotice: () => {} });
      try {
        const rows = await sql`select role from latchkey.users where email = ${ada}`;
        assert.equal(rows[0].role, "admin");
        // The setting that keeps the idle server's memory down reaches PostgreSQL.
        const [{ shared_buffers }] = await sql`show shared_buffers`;
        assert.equal(shared_buffers, sharedBuffers);
      } finally {
        await sql.end();
      }

      // A second server on the same files: one line naming the holder, and nothing opened.
      const second = await deno(
        ["run", "--allow-all", "functions/_local/start.ts"],
        dataDir,
      );
      assert.equal(second.code, 1);
      const lines = second.stderr.trim().split("\n");
      assert.equal(lines.length, 1, second.stderr);
      assert.match(lines[0], new RegExp(`open in process ${server.pid} \\(deno task start`));

      // Restart: the promotion, the account and its key are kept.
      await server.stop();
      server = undefined;
      assert.equal(
        await Deno.stat(`${dataDir}/embedded-database.json`).then(() => true, () => false),
        false,
        "a stopped server lets go of the files",
      );
      // With no server, a task opens the files itself, and lets go of them after.
      const alone = await task("promote", [ada, "--role", "support"], dataDir);
      assert.equal(alone.code, 0, alone.stderr);
      server = await embeddedServer(dataDir);
      assert.equal((await signIn(server, ada)).body.user.role, "support");
      const again = await call(server, "GET", "/admin/users", { headers: { "x-api-key": key } });
      assert.equal(again.status, 200, "the bootstrap key survived the restart");
    } finally {
      await server?.stop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
  },
});
