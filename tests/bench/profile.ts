/**
 * A CPU profile of the gateway's JavaScript thread while a load runs, through the V8 inspector
 * (the server started with `--inspect`): self time by area (Deno's runtime, Hono, postgres.js,
 * zod, Latchkey, GC, idle) and the top functions. The benchmark's answer to "where does the
 * time go" on the key check.
 */
import { openInspector } from "./inspector.ts";

export interface ProfileSummary {
  samples: number;
  byArea: [string, number][];
  topFunctions: [string, number][];
}

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

function areaOf(frame: CallFrame): string {
  const { functionName, url } = frame;
  if (functionName === "(idle)") return "idle (waiting for I/O)";
  if (functionName === "(garbage collector)") return "garbage collection";
  if (functionName === "(program)") return "V8 and native code outside JavaScript";
  if (/\/postgres\//.test(url)) return "postgres.js";
  if (/\/hono\//.test(url)) return "hono";
  if (/\/zod\//.test(url)) return "zod";
  if (/\/functions\//.test(url)) return "latchkey (functions/)";
  return "Deno runtime (HTTP server, fetch types, streams, ops)";
}

/** Profiles the JavaScript thread of the process whose inspector listens on `port`. */
export async function profileDuring<T>(
  port: number,
  run: () => Promise<T>,
): Promise<{ result: T; profile: ProfileSummary }> {
  const inspector = await openInspector(port);
  const send = inspector.send;
  try {
    await send("Profiler.enable");
    await send("Profiler.setSamplingInterval", { interval: 500 });
    await send("Profiler.start");
    const result = await run();
    const { profile } = await send("Profiler.stop");
    return { result, profile: summarize(profile) };
  } finally {
    inspector.close();
  }
}

function summarize(
  profile: { nodes: { id: number; callFrame: CallFrame }[]; samples: number[] },
): ProfileSummary {
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const sample of profile.samples) {
    const frame = frames.get(sample)!;
    const area = areaOf(frame);
    byArea.set(area, (byArea.get(area) ?? 0) + 1);
    const where = frame.url.replace(/^.*\/(functions|registry\.npmjs\.org)\//, "");
    const name = `${frame.functionName || "(anonymous)"} ${where}${
      where ? `:${frame.lineNumber + 1}` : ""
    }`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + 1);
  }
  const total = profile.samples.length;
  const shares = (counts: Map<string, number>) =>
    [...counts].sort((a, b) => b[1] - a[1]).map(([name, n]): [string, number] => [
      name,
      n / total,
    ]);
  return {
    samples: total,
    byArea: shares(byArea),
    topFunctions: shares(byFunction).filter(([name]) => !name.startsWith("(idle)")).slice(0, 12),
  };
}
