import assert from "node:assert/strict";
import {
  configReferenceRows,
  referenceMarkers,
  referencePage,
} from "../../build/config_reference.ts";

// The configuration table (docs/configuration.md) is generated from the schema; this keeps them
// in step.
Deno.test("the configuration page's table is the one the schema generates", async () => {
  const page = await Deno.readTextFile(new URL(`../../${referencePage}`, import.meta.url));
  const start = page.indexOf(referenceMarkers.start);
  const end = page.indexOf(referenceMarkers.end);
  assert.ok(start >= 0 && end > start, `${referencePage} has the config-reference markers`);
  const section = page.slice(start, end);
  const rows = section.split("\n")
    .filter((line) => line.startsWith("| `"))
    .map((line) => line.split("|").slice(1, -1).map((cell) => cell.trim()));
  assert.deepEqual(rows, configReferenceRows(), "run: deno task config:reference -- --write");
  assert.ok(rows.length >= 20);
});

Deno.test("the task table (docs/tasks.md) lists every task in deno.json, and only those", async () => {
  const page = await Deno.readTextFile(new URL("../../docs/tasks.md", import.meta.url));
  const { tasks } = JSON.parse(
    await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
  );
  const listed = [...page.matchAll(/^\| `deno task ([\w:-]+)/gm)].map((match) => match[1]);
  assert.deepEqual([...listed].sort(), Object.keys(tasks).sort());
});
