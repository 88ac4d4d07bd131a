import { configSchema } from "../functions/_shared/config/config.ts";
import { taskArgs } from "../functions/_local/task_args.ts";

/**
 * `deno task config:reference`: the configuration reference as a Markdown table, made from the
 * one zod schema every variable is parsed by. `-- --write` puts it into README.md between the
 * config-reference markers (and a test fails when the README and the schema disagree).
 */

export const readmeMarkers = {
  start: "<!-- config-reference:start -->",
  end: "<!-- config-reference:end -->",
};

export function configReferenceRows(): [string, string, string][] {
  const defaults = configSchema.parse({}) as Record<string, unknown>;
  return Object.entries(configSchema.shape).map(([name, field]) => {
    const value = defaults[name];
    // Lists as they are written (comma-separated), objects as the JSON they are written in.
    const text = typeof value === "object" && value !== null && !Array.isArray(value)
      ? JSON.stringify(value)
      : String(value ?? "");
    const shown = text === "" ? "—" : `\`${text}\``;
    return [`\`${name}\``, shown, field.description ?? ""];
  });
}

export function configReferenceTable(): string {
  const rows = configReferenceRows().map((cells) => `| ${cells.join(" | ")} |`);
  return ["| variable | default | meaning |", "| --- | --- | --- |", ...rows].join("\n");
}

if (import.meta.main) {
  const table = configReferenceTable();
  if (!taskArgs().includes("--write")) {
    console.log(table);
  } else {
    const readmeUrl = new URL("../README.md", import.meta.url);
    const readme = await Deno.readTextFile(readmeUrl);
    const start = readme.indexOf(readmeMarkers.start);
    const end = readme.indexOf(readmeMarkers.end);
    if (start < 0 || end < start) throw new Error("README.md has no config-reference markers");
    await Deno.writeTextFile(
      readmeUrl,
      `${readme.slice(0, start + readmeMarkers.start.length)}\n\n${table}\n\n${readme.slice(end)}`,
    );
    console.log("README.md: configuration reference updated (run deno fmt)");
  }
}
