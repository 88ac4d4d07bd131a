/**
 * Where a machine's CPU went during a load run, by program: the benchmark's profile of why
 * the HTTP path reaches only part of pgbench's ceiling when server, PostgreSQL and the load
 * generator share two cores. Read from /proc (utime + stime of every process, in clock ticks).
 */

const ticksPerSecond = 100; // USER_HZ on Linux

function ticksByProgram(): Map<string, number> {
  const totals = new Map<string, number>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
    } catch {
      continue; // gone meanwhile
    }
    // comm is in parentheses and may hold spaces; the fields after it are space-separated.
    const close = stat.lastIndexOf(")");
    const program = stat.slice(stat.indexOf("(") + 1, close);
    const fields = stat.slice(close + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
    totals.set(program, (totals.get(program) ?? 0) + ticks);
  }
  return totals;
}

function idleTicks(): number {
  const [cpu] = Deno.readTextFileSync("/proc/stat").split("\n");
  const fields = cpu.trim().split(/\s+/).slice(1).map(Number);
  return fields[3] + fields[4]; // idle + iowait
}

export interface CpuShare {
  /** Per program, in cores (1.0 = one core busy the whole window). */
  cores: Record<string, number>;
  idleCores: number;
  windowSeconds: number;
}

/**
 * Samples from `startAfterMs` into a run for `windowMs` (inside the run, so warm-up and
 * teardown are left out) while `run` goes on; resolves with the run's result and the shares.
 */
export async function cpuShareDuring<T>(
  run: Promise<T>,
  { startAfterMs, windowMs }: { startAfterMs: number; windowMs: number },
): Promise<{ result: T; share: CpuShare }> {
  const sample = (async () => {
    await new Promise((resolve) => setTimeout(resolve, startAfterMs));
    const before = ticksByProgram();
    const idleBefore = idleTicks();
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const after = ticksByProgram();
    const idleAfter = idleTicks();
    const seconds = (performance.now() - started) / 1000;
    const cores: Record<string, number> = {};
    for (const [program, ticks] of after) {
      const used = (ticks - (before.get(program) ?? 0)) / ticksPerSecond / seconds;
      if (used >= 0.01) cores[program] = used;
    }
    return {
      cores,
      idleCores: (idleAfter - idleBefore) / ticksPerSecond / seconds,
      windowSeconds: seconds,
    };
  })();
  const [result, share] = await Promise.all([run, sample]);
  return { result, share };
}

/** "deno 0.98, postgres 0.71, wrk 0.24, idle 0.05 (cores)". */
export function describeShare(share: CpuShare): string {
  const parts = Object.entries(share.cores)
    .sort((a, b) => b[1] - a[1])
    .map(([program, cores]) => `${program} ${cores.toFixed(2)}`);
  return `${[...parts, `idle ${share.idleCores.toFixed(2)}`].join(", ")} (cores)`;
}
