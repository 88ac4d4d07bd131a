/**
 * How `deno task test` shares the Deno test files among its workers: the slowest files first,
 * one to a `deno test` process, the quick ones packed together so that a process's start-up is
 * paid a few times rather than once a file. Workers take the next item when they are free, so
 * the plan needs only a rough weight per file: tests/durations.json, written by
 * `deno task test -- --write-durations` from a whole run (a file it does not list weighs
 * `unknownSeconds`, so a new file runs and is merely placed less well).
 */

export interface PlanItem {
  files: string[];
  /** Expected seconds, from the durations file. */
  weight: number;
}

const durationsFile = new URL("../durations.json", import.meta.url);
const unknownSeconds = 2;
/** A file expected to take this long runs in a process of its own. */
const aloneFromSeconds = 4;
/** Quick files go together up to this many expected seconds. */
const batchSeconds = 6;

export function readDurations(): Record<string, number> {
  try {
    return JSON.parse(Deno.readTextFileSync(durationsFile));
  } catch {
    return {};
  }
}

/** Writes the measured seconds per file, rounded, sorted by name so that the file diffs well. */
export function writeDurations(measured: Record<string, number>): void {
  const sorted = Object.fromEntries(
    Object.keys(measured).sort().map((file) => [file, Math.round(measured[file] * 10) / 10]),
  );
  Deno.writeTextFileSync(durationsFile, JSON.stringify(sorted, null, 2) + "\n");
}

/** Heaviest first: the long files start at once and the quick batches fill the gaps at the end. */
export function planItems(files: string[], durations: Record<string, number>): PlanItem[] {
  const weighed = files
    .map((file) => ({ file, weight: durations[file] ?? unknownSeconds }))
    .sort((a, b) => b.weight - a.weight || a.file.localeCompare(b.file));
  const items: PlanItem[] = [];
  let batch: PlanItem | null = null;
  for (const { file, weight } of weighed) {
    if (weight >= aloneFromSeconds) {
      items.push({ files: [file], weight });
      continue;
    }
    if (!batch || batch.weight + weight > batchSeconds) {
      batch = { files: [], weight: 0 };
      items.push(batch);
    }
    batch.files.push(file);
    batch.weight += weight;
  }
  return items.sort((a, b) => b.weight - a.weight);
}

// Deno colours its output; counts and names are read from the plain text.
// deno-lint-ignore no-control-regex
export const stripAnsi = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "");

export interface TestOutcome {
  passed: number;
  failed: number;
  ignored: number;
  /** The "name => file:line" lines of deno test's closing FAILURES list. */
  failures: string[];
  /** Seconds of top-level tests per file, as deno test reported them. */
  secondsByFile: Record<string, number>;
}

/** What one `deno test` run reported, from its plain-text output. */
export function readTestOutput(output: string): TestOutcome {
  const summary = /(\d+) passed.*?\| (\d+) failed/.exec(output);
  const list = output.split(/\n ?FAILURES ?\n/).at(1)?.split(/\n(?:ok|FAILED) \|/)[0] ?? "";
  const secondsByFile: Record<string, number> = {};
  let file: string | null = null;
  for (const line of output.split("\n")) {
    const running = /^running \d+ tests? from \.\/(\S+)/.exec(line);
    if (running) {
      file = running[1];
      secondsByFile[file] ??= 0;
      continue;
    }
    // Steps are indented; a test's own line is not.
    const timed = /^\S.* \.\.\. (?:ok|FAILED|ignored) \((\d+(?:\.\d+)?)(ms|s|m)\)$/.exec(line);
    if (timed && file) {
      const value = Number(timed[1]);
      secondsByFile[file] += timed[2] === "ms"
        ? value / 1000
        : timed[2] === "m"
        ? value * 60
        : value;
    }
  }
  return {
    passed: Number(summary?.[1] ?? 0),
    failed: Number(summary?.[2] ?? 0),
    ignored: Number(/(\d+) ignored/.exec(output)?.[1] ?? 0),
    failures: list.split("\n").filter((line) => line.includes(" => ")),
    secondsByFile,
  };
}
