import { configSchema } from "../functions/_shared/config/config.ts";
import { taskArgs } from "../functions/_local/task_args.ts";

/**
 * `deno task config:reference`: the configuration reference as a Markdown table, made from the
 * one zod schema every variable is parsed by. `-- --write` puts it into docs/configuration.md
 * between the config-reference markers (and a test fails when that page and the schema disagree).
 */

/** The page the table lives in, relative to the repository's root. */
export const referencePage = "docs/configuration.md";

export const referenceMarkers = {
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
    const pageUrl = new URL(`../${referencePage}`, import.meta.url);
    const page = await Deno.readTextFile(pageUrl);
    const start = page.indexOf(referenceMarkers.start);
    const end = page.indexOf(referenceMarkers.end);
    if (start < 0 || end < start) {
      throw new Error(`${referencePage} has no config-reference markers`);
    }
    await Deno.writeTextFile(
      pageUrl,
      `${page.slice(0, start + referenceMarkers.start.length)}\n\n${table}\n\n${page.slice(end)}`,
    );
    console.log(`${referencePage}: configuration reference updated (run deno fmt)`);
  }
}
