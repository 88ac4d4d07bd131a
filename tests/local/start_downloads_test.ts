import assert from "node:assert/strict";
import { runDeno } from "../support/deno_run.ts";

/**
 * A cold `deno task start` fetches only what the server imports. What it fetches is decided by
 * deno.lock, not by the import graph: `deno task` installs every npm package of that lockfile
 * before it runs any task (denoland/deno#28999), and `deno run` every package of its lockfile
 * before it runs the program. So deno.lock must hold exactly the packages the start's graph
 * loads; the tests' packages live in tests/deno.lock (docs/testing.md). Proved here from the
 * graph rather than by a cold start, which downloads about 60 MB from npm.
 */

interface Lockfile {
  version: string;
  specifiers: Record<string, string>;
  npm: Record<string, unknown>;
}

interface DenoInfo {
  modules: { kind?: string; npmPackage?: string }[];
  npmPackages: Record<string, { dependencies: string[] }>;
}

const root = new URL("../../", import.meta.url);

async function readLockfile(path: string): Promise<Lockfile> {
  return JSON.parse(await Deno.readTextFile(new URL(path, root)));
}

/**
 * The npm packages `entrypoint` loads, as lockfile ids: the packages its modules import and
 * theirs in turn. `deno info` lists the whole lockfile besides, so the walk starts from the
 * modules. Run under deno.lock, frozen: a package missing from it fails here.
 */
async function npmPackagesLoadedBy(entrypoint: string): Promise<Set<string>> {
  const { code, stdout, stderr } = await runDeno(["info", "--json", entrypoint], {});
  assert.equal(code, 0, `deno info ${entrypoint} under deno.lock:\n${stderr}`);
  const info: DenoInfo = JSON.parse(stdout);
  const loaded = new Set<string>();
  const visit = (id: string) => {
    if (loaded.has(id)) return;
    loaded.add(id);
    for (const dependency of info.npmPackages[id]?.dependencies ?? []) visit(dependency);
  };
  for (const module of info.modules) if (module.npmPackage) visit(module.npmPackage);
  return loaded;
}

/** The script each task runs with `deno run` under deno.lock (no `--lock` of its own). */
async function tasksUnderTheServerLock(): Promise<Map<string, string>> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  const scripts = new Map<string, string>();
  for (const [name, command] of Object.entries<string>(config.tasks)) {
    const words = command.split(/\s+/);
    const run = words.indexOf("run", words.indexOf("deno"));
    if (!words.includes("deno") || run < 0 || words.some((word) => word.startsWith("--lock"))) {
      continue;
    }
    scripts.set(name, words.slice(run + 1).find((word) => word.endsWith(".ts"))!);
  }
  return scripts;
}

Deno.test("deno.lock holds exactly the npm packages the start command loads", async () => {
  const lock = await readLockfile("deno.lock");
  const loaded = await npmPackagesLoadedBy("functions/_local/start.ts");
  assert.ok(loaded.has("hono@4.13.19") && loaded.has("@electric-sql/pglite@0.5.14"));
  assert.deepEqual(
    Object.keys(lock.npm).sort(),
    [...loaded].sort(),
    "deno.lock must lock what the start loads and nothing else: a test-only package belongs in " +
      "tests/deno.lock and not in deno.json's imports (docs/testing.md says how to rebuild both)",
  );
});

Deno.test("every task run under deno.lock loads nothing beyond the start's packages", async () => {
  const tasks = await tasksUnderTheServerLock();
  for (const name of ["start", "db:migrate", "db:seed", "promote", "bootstrap"]) {
    assert.ok(tasks.has(name), `task ${name} runs under deno.lock`);
  }
  for (const name of ["test", "check", "bench"]) assert.ok(!tasks.has(name), name);
  const locked = new Set(Object.keys((await readLockfile("deno.lock")).npm));
  const loads = await Promise.all(
    [...tasks].map(async ([name, script]) => [name, await npmPackagesLoadedBy(script)] as const),
  );
  for (const [name, packages] of loads) {
    assert.deepEqual([...packages].filter((id) => !locked.has(id)), [], `task ${name}`);
  }
});

Deno.test("tests/deno.lock pins the server's packages exactly as deno.lock does", async () => {
  const server = await readLockfile("deno.lock");
  const tests = await readLockfile("tests/deno.lock");
  // Version 4: the newest Deno 2.1 (the edge runtime's) reads.
  assert.equal(server.version, "4");
  assert.equal(tests.version, "4");
  for (const [specifier, resolved] of Object.entries(server.specifiers)) {
    assert.equal(tests.specifiers[specifier], resolved, specifier);
  }
  for (const [id, entry] of Object.entries(server.npm)) {
    assert.deepEqual(tests.npm[id], entry, id);
  }
  assert.ok(
    Object.keys(tests.specifiers).some((specifier) => specifier.startsWith("npm:fast-check@")),
    "the tests' own packages are in tests/deno.lock",
  );
});
