import assert from "node:assert/strict";

/**
 * The import graph of the code Latchkey ships and runs: every relative import of every .ts file
 * under functions/ and build/ (static, type-only, dynamic, and a worker's or subprocess's
 * `new URL("./x.ts", import.meta.url)`). The tests fail on an import cycle, on more than three
 * levels of imports inside one folder of functions/_shared, and on an import from a folder to one
 * above it in `layers`. `deno task imports` prints the numbers.
 */

/** Folders from the bottom up. A file imports only its own folder and folders below it. */
export const layers: readonly (string | readonly string[])[] = [
  // A package of its own (npm's @latchkey/with-latchkey): imports nothing of Latchkey's.
  "packages/with-latchkey",
  // Ground: the error catalogue, the principal model, field shapes, crypto; imports nothing above.
  "functions/_shared/ground",
  "functions/_shared/config",
  "functions/_shared/db",
  // Housekeeping after answers without a cron job: pruning in batches.
  "functions/_shared/housekeeping",
  // The HTTP shell: below the domain, which hands it the work it runs around requests.
  "functions/_shared/http",
  "functions/_shared/mail",
  "functions/_shared/audit",
  "functions/_shared/webhooks",
  "functions/_shared/passwords",
  "functions/_shared/accounts",
  // Organizations: their rows, views and the member list, for the orgs and admin functions.
  "functions/_shared/orgs",
  "functions/_shared/keys",
  "functions/_shared/identity",
  "functions/_shared/factors",
  // Route declarations and function apps, wired with the domain's background work.
  "functions/_shared/api",
  // The deployed functions: peers, none imports another.
  [
    "functions/admin",
    "functions/auth",
    "functions/keys",
    "functions/orgs",
    "functions/version",
    // A team's own function, as an example (it imports the package, not the core).
    "functions/example-notes",
  ],
  "functions/_local",
  "build",
];

/** Trees whose files the graph holds. */
export const trees = ["functions", "build", "packages"];

/** At most this many levels of imports among the files of one folder of functions/_shared. */
export const maxLevelsInFolder = 3;

export type Graph = Map<string, Set<string>>;

const importPatterns = [
  // import … from "./x.ts"; export … from "./x.ts" (over several lines too)
  /^\s*(?:import|export)\b[^;]*?\bfrom\s*["'](\.{1,2}\/[^"']+)["']/gm,
  // import "./x.ts";
  /^\s*import\s*["'](\.{1,2}\/[^"']+)["']/gm,
  // await import("./x.ts")
  /\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g,
  // new Worker(new URL("./x.ts", import.meta.url)), a subprocess's script
  /new URL\(\s*["'](\.{1,2}\/[^"']+\.ts)["']\s*,\s*import\.meta\.url\s*\)/g,
];

/** The relative imports a source names, as written. */
export function relativeImports(source: string): string[] {
  const found = new Set<string>();
  for (const pattern of importPatterns) {
    for (const match of source.matchAll(pattern)) found.add(match[1]);
  }
  return [...found];
}

function normalize(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return parts.join("/");
}

function directoryOf(file: string): string {
  return file.slice(0, file.lastIndexOf("/"));
}

async function* typescriptFiles(root: string, directory: string): AsyncGenerator<string> {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(`${root}/${directory}`)];
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const path = `${directory}/${entry.name}`;
    if (entry.isDirectory) yield* typescriptFiles(root, path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

/** Files (relative to `root`) and the files each imports, among those of `trees`. */
export async function importGraph(root: string, from = trees): Promise<Graph> {
  const graph: Graph = new Map();
  for (const tree of from) {
    for await (const file of typescriptFiles(root, tree)) {
      const source = await Deno.readTextFile(`${root}/${file}`);
      graph.set(
        file,
        new Set(relativeImports(source).map((spec) => normalize(`${directoryOf(file)}/${spec}`))),
      );
    }
  }
  // Only edges to files of the graph (a generated or missing file is deno check's business).
  for (const [file, imports] of graph) {
    graph.set(file, new Set([...imports].filter((target) => graph.has(target))));
  }
  return graph;
}

/** Each cycle as a list of files (Tarjan's strongly connected components, plus self-imports). */
export function cycles(graph: Graph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (file: string) => {
    index.set(file, next);
    low.set(file, next);
    next++;
    stack.push(file);
    onStack.add(file);
    for (const target of graph.get(file) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(file, Math.min(low.get(file)!, index.get(target)!));
      }
    }
    if (low.get(file) === index.get(file)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== file);
      if (component.length > 1 || graph.get(file)?.has(file)) found.push(component.sort());
    }
  };
  for (const file of [...graph.keys()].sort()) if (!index.has(file)) visit(file);
  return found;
}

/**
 * Each file's level: 0 when it imports none of `graph`'s files, else one more than the highest
 * level it imports (the longest chain of imports down from it). Files on a cycle, where no
 * such chain ends, count as the level of what they import from outside it.
 */
export function levels(graph: Graph): Map<string, number> {
  const level = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (file: string): number => {
    if (level.has(file)) return level.get(file)!;
    if (visiting.has(file)) return -1;
    visiting.add(file);
    let highest = -1;
    for (const target of graph.get(file) ?? []) highest = Math.max(highest, visit(target));
    visiting.delete(file);
    level.set(file, highest + 1);
    return highest + 1;
  };
  for (const file of graph.keys()) visit(file);
  return level;
}

/** The graph of the imports among the files of `files` alone. */
export function subgraph(graph: Graph, keep: (file: string) => boolean): Graph {
  const inside: Graph = new Map();
  for (const [file, imports] of graph) {
    if (keep(file)) inside.set(file, new Set([...imports].filter(keep)));
  }
  return inside;
}

/** The declared folder of a file (the deepest one holding it) and its rank, or null. */
export function layerOf(file: string): { folder: string; rank: number } | null {
  let best: { folder: string; rank: number } | null = null;
  layers.forEach((entry, rank) => {
    for (const folder of typeof entry === "string" ? [entry] : entry) {
      if (file.startsWith(`${folder}/`) && (!best || folder.length > best.folder.length)) {
        best = { folder, rank };
      }
    }
  });
  return best;
}

/** Imports from a folder to another that is not below it (above, or a peer). */
export function upwardImports(graph: Graph): string[] {
  const found: string[] = [];
  for (const [file, imports] of graph) {
    const from = layerOf(file);
    for (const target of imports) {
      const to = layerOf(target);
      if (!from || !to || from.folder === to.folder) continue;
      if (to.rank >= from.rank) found.push(`${file} -> ${target}`);
    }
  }
  return found.sort();
}

/** The folders of functions/_shared (itself, when its files lie flat) and their files. */
function sharedFolders(graph: Graph): Map<string, string[]> {
  const folders = new Map<string, string[]>();
  for (const file of graph.keys()) {
    if (!file.startsWith("functions/_shared/")) continue;
    const folder = directoryOf(file);
    folders.set(folder, [...(folders.get(folder) ?? []), file]);
  }
  return folders;
}

/** Levels of imports among each _shared folder's own files (highest level + 1). */
export function levelsInFolders(graph: Graph): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [folder, files] of sharedFolders(graph)) {
    const inside = subgraph(graph, (file) => files.includes(file));
    counts.set(folder, Math.max(...levels(inside).values()) + 1);
  }
  return counts;
}

const root = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

Deno.test("no import cycle in functions/ and build/", async () => {
  assert.deepEqual(cycles(await importGraph(root)), []);
});

Deno.test("no import cycle in tests/ either", async () => {
  assert.deepEqual(cycles(await importGraph(root, ["tests", ...trees])), []);
});

Deno.test("every file lies in a declared folder, and no folder imports one above it", async () => {
  const graph = await importGraph(root);
  assert.deepEqual([...graph.keys()].filter((file) => !layerOf(file)), [], "declare it in layers");
  assert.deepEqual(upwardImports(graph), []);
});

Deno.test(`at most ${maxLevelsInFolder} levels of imports inside a folder of _shared`, async () => {
  const graph = await importGraph(root);
  const counts = levelsInFolders(graph);
  assert.ok(counts.size > 1, "functions/_shared is arranged in folders");
  const deep = [...counts].filter(([, count]) => count > maxLevelsInFolder);
  assert.deepEqual(deep, []);
});

Deno.test("the graph sees every kind of relative import", () => {
  const source = [
    'import { a } from "./a.ts";',
    "import {\n  b,\n  type C,\n} from '../b.ts';",
    'export { d } from "./d.ts";',
    'import "./e.ts";',
    'const f = await import("./f.ts");',
    'new Worker(new URL("./g.ts", import.meta.url));',
    'import { z } from "zod";',
    'const page = new URL("../../README.md", import.meta.url);',
  ].join("\n");
  assert.deepEqual(relativeImports(source).sort(), [
    "../b.ts",
    "./a.ts",
    "./d.ts",
    "./e.ts",
    "./f.ts",
    "./g.ts",
  ]);
});

/** `deno task imports [-- <checkout>]`: the numbers, for this checkout or another. */
if (import.meta.main) {
  const checkout = Deno.args.find((arg) => !arg.startsWith("--")) ?? root;
  const graph = await importGraph(checkout);
  const level = levels(graph);
  const shared = subgraph(graph, (file) => file.startsWith("functions/_shared/"));
  const sharedLevels = levels(shared);
  const edges = (of: Graph) => [...of.values()].reduce((sum, imports) => sum + imports.size, 0);
  const found = cycles(graph);
  const upward = upwardImports(graph);
  console.log(`files: ${graph.size}, imports among them: ${edges(graph)}`);
  console.log(`levels over all files: ${Math.max(...level.values()) + 1}`);
  console.log(
    `functions/_shared: ${shared.size} files, ${edges(shared)} imports among them, ` +
      `${Math.max(...sharedLevels.values()) + 1} levels`,
  );
  for (const [folder, count] of levelsInFolders(graph)) {
    const files = [...shared.keys()].filter((file) => directoryOf(file) === folder);
    const lines = files.reduce(
      (sum, file) => sum + Deno.readTextFileSync(`${checkout}/${file}`).split("\n").length - 1,
      0,
    );
    console.log(`  ${folder}: ${files.length} files, ${lines} lines, ${count} levels inside`);
  }
  console.log(`cycles: ${found.length}`);
  for (const cycle of found) console.log(`  ${cycle.join(" <-> ")}`);
  console.log(`imports from a folder to one not below it: ${upward.length}`);
  for (const line of upward) console.log(`  ${line}`);
  const undeclared = [...graph.keys()].filter((file) => !layerOf(file));
  if (undeclared.length) console.log(`files in no declared folder: ${undeclared.length}`);
  if (Deno.args.includes("--levels")) {
    for (const [file, n] of [...level].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) {
      console.log(`${String(n).padStart(3)}  ${file}`);
    }
  }
}
