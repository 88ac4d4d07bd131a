import assert from "node:assert/strict";
import {
  exampleFunctions,
  functionDefinitions,
} from "../../functions/_local/deployed_functions.ts";

// The Supabase CLI reads no code: its list of functions is the one other place they are named.
Deno.test("supabase/config.toml names every function and example, each from its index.ts, and only those", async () => {
  const toml = await Deno.readTextFile(new URL("../../supabase/config.toml", import.meta.url));
  const sections = [...toml.matchAll(/^\[functions\.([\w-]+)\]$/gm)].map((match) => match[1]);
  assert.deepEqual(
    sections.sort(),
    [...functionDefinitions.map(({ name }) => name), ...Object.keys(exampleFunctions)].sort(),
  );
  for (const name of sections) {
    assert.ok(
      toml.includes(`entrypoint = "../functions/${name}/index.ts"`),
      `[functions.${name}] has its entrypoint`,
    );
  }
});
