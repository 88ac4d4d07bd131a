import assert from "node:assert/strict";
import { createKey, functionsUrl, signUp } from "../support/http.ts";
import { which } from "../support/tools.ts";
import { builtPackageFiles } from "../../build/latchkey_client.ts";

/**
 * packages/with-latchkey as npm packs it (after its prepack, `deno task client:generate`, which
 * builds dist/): the files it ships (the built modules, their declarations, the generated API
 * types, the README; never a source, test or secret) and its version, from
 * `npm pack --dry-run`; then the packed tarball installed beside its dependencies and run by
 * Node against the suite's gateway, as a team on Node uses it. The package is packed from a
 * copy with dist/ built in memory, so the checkout is left as it is; the dependencies come from
 * Deno's npm cache (the versions tests/deno.lock pins): nothing is fetched.
 */

const packageDirectory = new URL("../../packages/with-latchkey/", import.meta.url).pathname;
const hasNode = await which("node") && await which("npm");

/** A copy of the package in `work` with dist/ as the prepack builds it now. */
async function packageCopy(work: string): Promise<string> {
  const copy = `${work}/package`;
  await Deno.mkdir(copy);
  await run("cp", ["-R", `${packageDirectory}.`, copy], work);
  await Deno.remove(`${copy}/dist`, { recursive: true }).catch(() => {});
  await Deno.mkdir(`${copy}/dist`);
  for (const [path, text] of Object.entries(await builtPackageFiles())) {
    await Deno.writeTextFile(`${copy}/${path}`, text);
  }
  return copy;
}

async function run(program: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const { code, stdout, stderr } = await new Deno.Command(program, {
    args,
    cwd,
    env: { ...env, npm_config_update_notifier: "false", npm_config_fund: "false" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout);
  assert.equal(
    code,
    0,
    `${program} ${args.join(" ")}:\n${text}\n${new TextDecoder().decode(stderr)}`,
  );
  return text;
}

function checkPacked(
  packed: { name: string; version: string; size: number; files: { path: string }[] },
) {
  assert.equal(packed.name, "@latchkey/with-latchkey");
  assert.equal(packed.version, "0.1.0");
  const modules = ["mod", "client", "jwt", "token_cache", "key_cache", "key_uses", "hono"];
  assert.deepEqual(
    packed.files.map((file: { path: string }) => file.path).sort(),
    [
      "README.md",
      "package.json",
      "dist/latchkey_api.d.ts",
      ...modules.flatMap((name) => [`dist/${name}.js`, `dist/${name}.d.ts`]),
    ].sort(),
  );
  assert.ok(packed.size < 64 * 1024, `${packed.size} bytes packed`);
}

/** `name@version` of the packages `roots` need, from tests/deno.lock (the versions Deno has). */
async function lockedClosure(roots: string[]): Promise<string[]> {
  const lock = JSON.parse(
    await Deno.readTextFile(new URL("../deno.lock", import.meta.url)),
  ) as { npm: Record<string, { dependencies?: string[] }> };
  const ids = Object.keys(lock.npm);
  const found = new Set<string>();
  const visit = (id: string) => {
    if (found.has(id)) return;
    found.add(id);
    for (const dependency of lock.npm[id]?.dependencies ?? []) {
      // A dependency is named `name` when one version is locked, else `name@version`.
      visit(
        ids.find((candidate) => candidate === dependency) ??
          ids.find((candidate) => candidate.startsWith(`${dependency}@`))!,
      );
    }
  };
  roots.forEach(visit);
  return [...found].map((id) => id.replace(/_.*$/, ""));
}

Deno.test({
  name: "npm pack ships the built modules, their types and the README at 0.1.0; Node runs it",
  ignore: !hasNode,
  async fn(t) {
    const work = await Deno.makeTempDir({ prefix: "with-latchkey-pack-" });
    try {
      const copy = await packageCopy(work);
      await t.step("npm pack --dry-run: the files and the version, nothing else", async () => {
        const [packed] = JSON.parse(
          await run("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], copy),
        );
        checkPacked(packed);
      });
      await t.step("Node: a key verified, its principal handed to the handler", async () => {
        const [tarball] = JSON.parse(
          await run(
            "npm",
            ["pack", "--json", "--ignore-scripts", "--pack-destination", work],
            copy,
          ),
        );
        checkPacked(tarball);
        const modules = `${work}/node_modules`;
        await Deno.mkdir(`${modules}/@latchkey/with-latchkey`, { recursive: true });
        await run("tar", [
          "-xzf",
          `${work}/${tarball.filename}`,
          "-C",
          `${modules}/@latchkey/with-latchkey`,
          "--strip-components=1",
        ], work);
        const { npmCache } = JSON.parse(await run(Deno.execPath(), ["info", "--json"], work));
        for (
          const id of await lockedClosure(["openapi-fetch@0.17.0", "@supabase/supabase-js@2.119.1"])
        ) {
          const at = id.lastIndexOf("@");
          const [name, version] = [id.slice(0, at), id.slice(at + 1)];
          await Deno.mkdir(`${modules}/${name}`, { recursive: true });
          await run("cp", [
            "-R",
            `${npmCache}/registry.npmjs.org/${name}/${version}/.`,
            `${modules}/${name}`,
          ], work);
        }

        const owner = await signUp("node-user");
        const { key } = await createKey(owner.token, { name: "node", scopes: ["compile"] });
        await Deno.writeTextFile(
          `${work}/check.mjs`,
          `
import { withLatchkey, createLatchkeyClient } from "@latchkey/with-latchkey";
import { latchkey } from "@latchkey/with-latchkey/hono";
const url = process.env.LATCHKEY_URL;
const verified = await createLatchkeyClient({ url }).POST("/keys/verify", {
  body: { key: process.env.KEY },
});
const handler = withLatchkey(
  { url, supabaseUrl: "http://127.0.0.1:9", scopes: ["compile"] },
  async (_request, { principal, accessToken }) =>
    Response.json({ userId: principal.userId, role: principal.role, token: accessToken.length > 0 }),
);
const accepted = await handler(new Request("http://fn.test/", { headers: { "x-api-key": process.env.KEY } }));
const refused = await handler(new Request("http://fn.test/"));
console.log(JSON.stringify({
  node: process.versions.node,
  verified: verified.data.code,
  accepted: { status: accepted.status, body: await accepted.json() },
  refused: { status: refused.status, body: await refused.json() },
  hono: typeof latchkey,
}));
`,
        );
        // supabase-js's realtime client needs a WebSocket: Node 22 has one, Node 20 behind a flag.
        const major = Number((await run("node", ["--version"], work)).match(/^v(\d+)/)![1]);
        const flags = major < 22 ? ["--experimental-websocket"] : [];
        const output = JSON.parse(
          await run("node", [...flags, "check.mjs"], work, {
            PATH: Deno.env.get("PATH")!,
            LATCHKEY_URL: functionsUrl,
            KEY: key,
          }),
        );
        assert.ok(Number(output.node.split(".")[0]) >= 20, output.node);
        assert.equal(output.verified, "VALID");
        assert.deepEqual(output.accepted, {
          status: 200,
          body: { userId: owner.id, role: "user", token: true },
        });
        assert.equal(output.refused.status, 401);
        assert.equal(output.refused.body.error.code, "unauthorized");
        assert.equal(output.hono, "function");
      });
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
});
