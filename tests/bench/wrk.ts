/**
 * wrk, the load generator of the benchmarks: installed when missing, run with a Lua script
 * that reports as JSON.
 */

/** Seconds per run (BENCH_SECONDS, default 10). */
export const benchSeconds = Number(Deno.env.get("BENCH_SECONDS") ?? 10);

export async function ensureWrk(): Promise<void> {
  const found = await new Deno.Command("sh", { args: ["-c", "command -v wrk"], stdout: "null" })
    .output();
  if (found.success) return;
  console.log("wrk is missing; installing it with apt-get (Debian package wrk)");
  const install = await new Deno.Command("sh", {
    args: ["-c", "apt-get install -y wrk || (apt-get update && apt-get install -y wrk)"],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!install.success) throw new Error("could not install wrk: apt-get install wrk");
}

export interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
}

/** wrk with a Lua script that spreads requests over the keys and reports as JSON. */
export function runWrk(
  url: string,
  connections: number,
  script: string,
  seconds = benchSeconds,
): Promise<WrkResult> {
  return wrk(url, connections, script, seconds);
}

/**
 * The same until `until` settles (at most `atMostSeconds`): wrk stops on SIGINT and reports
 * what it measured so far.
 */
export function runWrkUntil(
  url: string,
  connections: number,
  script: string,
  until: Promise<unknown>,
  atMostSeconds = 600,
): Promise<WrkResult> {
  return wrk(url, connections, script, atMostSeconds, until);
}

async function wrk(
  url: string,
  connections: number,
  script: string,
  seconds: number,
  until?: Promise<unknown>,
): Promise<WrkResult> {
  const scriptPath = await Deno.makeTempFile({ suffix: ".lua" });
  await Deno.writeTextFile(scriptPath, script + doneHook);
  const child = new Deno.Command("wrk", {
    args: [
      `-t${Math.min(2, connections)}`,
      `-c${connections}`,
      `-d${seconds}s`,
      "--timeout",
      "5s",
      "-s",
      scriptPath,
      url,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stop = () => {
    try {
      child.kill("SIGINT");
    } catch {
      // Ended already.
    }
  };
  until?.then(stop, stop);
  const output = await child.output();
  await Deno.remove(scriptPath);
  const text = new TextDecoder().decode(output.stdout);
  const json = /BENCH_JSON (\{.*\})/.exec(text)?.[1];
  if (!json) {
    throw new Error(`wrk failed:\n${text}\n${new TextDecoder().decode(output.stderr)}`);
  }
  const raw = JSON.parse(json);
  return {
    requests: raw.requests,
    seconds: raw.duration_us / 1e6,
    rps: raw.requests / (raw.duration_us / 1e6),
    p50Ms: raw.p50_us / 1000,
    p99Ms: raw.p99_us / 1000,
    errors: raw.connect + raw.read + raw.write + raw.timeout,
    non2xx: raw.status,
  };
}

const doneHook = `
done = function(summary, latency, requests)
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, summary.errors.status))
end
`;

export function luaList(items: string[]): string {
  return `{${items.map((item) => JSON.stringify(item)).join(",")}}`;
}

export function verifyScript(keys: string[]): string {
  return `
local keys = ${luaList(keys)}
local bodies = {}
for i, key in ipairs(keys) do bodies[i] = '{"key":"' .. key .. '"}' end
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, bodies[(n % #bodies) + 1])
end
`;
}
