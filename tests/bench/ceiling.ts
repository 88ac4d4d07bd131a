/**
 * The database's ceiling for key verification: pgbench running the hot path's one statement
 * (`latchkey.check_api_key`) with as many clients as the HTTP run has connections, no HTTP,
 * no Deno. What the service reaches over HTTP is measured against it.
 */
import { sha256Hex } from "../../functions/_shared/ground/crypto.ts";

export interface Ceiling {
  tps: number;
  latencyMs: number;
  /** From pgbench's per-statement log: what each of the 64 clients waited. */
  p50Ms: number;
  p99Ms: number;
}

export async function pgbenchCeiling(
  binDirectory: string,
  databaseUrl: string,
  keys: string[],
  clients: number,
  seconds: number,
): Promise<Ceiling> {
  const directory = await Deno.makeTempDir({ prefix: "latchkey-pgbench-" });
  try {
    // One script per key, equally weighted: pgbench picks one per transaction.
    const files: string[] = [];
    for (const [index, key] of keys.entries()) {
      const file = `${directory}/key${index}.sql`;
      await Deno.writeTextFile(
        file,
        `select * from latchkey.check_api_key(decode('${sha256Hex(key)}', 'hex'), '{}');\n`,
      );
      files.push("-f", file);
    }
    const output = await new Deno.Command(`${binDirectory}/pgbench`, {
      args: [
        "--no-vacuum",
        "--protocol=prepared",
        `--client=${clients}`,
        `--jobs=${Math.min(2, clients)}`,
        `--time=${seconds}`,
        "--log",
        `--log-prefix=${directory}/statements`,
        ...files,
        databaseUrl,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(output.stdout);
    const tps = /tps = ([\d.]+)/.exec(text)?.[1];
    const latency = /latency average = ([\d.]+) ms/.exec(text)?.[1];
    if (!output.success || !tps || !latency) {
      throw new Error(`pgbench failed:\n${text}\n${new TextDecoder().decode(output.stderr)}`);
    }
    const { p50Ms, p99Ms } = await statementPercentiles(directory);
    return { tps: Number(tps), latencyMs: Number(latency), p50Ms, p99Ms };
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
}

/** p50 and p99 of the statements in pgbench's logs (one line per statement, µs in column 3). */
async function statementPercentiles(directory: string): Promise<{ p50Ms: number; p99Ms: number }> {
  const latencies: number[] = [];
  for await (const entry of Deno.readDir(directory)) {
    if (!entry.name.startsWith("statements")) continue;
    for (const line of (await Deno.readTextFile(`${directory}/${entry.name}`)).split("\n")) {
      const microseconds = Number(line.split(" ")[2]);
      if (line && Number.isFinite(microseconds)) latencies.push(microseconds / 1000);
    }
  }
  latencies.sort((a, b) => a - b);
  const at = (share: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(share * latencies.length))];
  return { p50Ms: at(0.5), p99Ms: at(0.99) };
}
