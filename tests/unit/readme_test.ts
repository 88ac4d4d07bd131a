import assert from "node:assert/strict";
import { configSchema } from "../../functions/_shared/config.ts";

// The README's configuration table is written by hand: this keeps it from drifting.
Deno.test("the README documents every configuration variable and its default", async () => {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const defaults = configSchema.parse({});
  for (const name of Object.keys(configSchema.shape)) {
    const row = readme.split("\n").find((line) =>
      new RegExp(`^\\|\\s*\`${name}\`\\s*\\|`).test(line)
    );
    assert.ok(row, `README has no row for ${name}`);
    const value = defaults[name as keyof typeof defaults];
    const hasDefault = value !== undefined && String(value) !== "";
    if (hasDefault) assert.ok(row.includes(`\`${value}\``), `${name} default ${value}`);
  }
});
