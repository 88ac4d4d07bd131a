/**
 * Verification of an organization's key against a user's (issue 29, item 5: within 10 %): the
 * same gateway, 64 keys of each kind, `POST /keys/verify` at 1 and 64 connections, the two
 * kinds in alternating runs (the order flipped each round) so the machine's drift falls on both.
 * An organization's key costs the key check one more primary-key lookup (its organization, for
 * the suspension and the ceiling) and spares it its missing user's.
 */

export interface VerifyRun {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
}

type Kind = "user's keys" | "organization's keys";

export interface OrgKeyComparison {
  connections: number;
  runs: Record<Kind, VerifyRun[]>;
  /** The machine's 1-minute load average before and after (other work may share it). */
  load: [number, number];
}

function loadAverage(): number {
  return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
}

const kinds: Kind[] = ["user's keys", "organization's keys"];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function json(response: Response) {
  const body = await response.json();
  if (!response.ok) throw new Error(`${response.url}: ${JSON.stringify(body)}`);
  return body;
}

/** An organization of the session's account, with `count` keys it owns; their secrets. */
export async function orgKeysFor(api: string, token: string, count: number): Promise<string[]> {
  const headers = { "content-type": "application/json", authorization: `Bearer ${token}` };
  const { org } = await json(
    await fetch(`${api}/orgs`, {
      method: "POST",
      headers,
      body: JSON.stringify({ name: `Bench org ${Date.now()}` }),
    }),
  );
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    const created = await json(
      await fetch(`${api}/orgs/${org.id}/keys`, {
        method: "POST",
        headers,
        body: JSON.stringify({ name: `bench org ${i}`, rateLimitPerMinute: 1_000_000 }),
      }),
    );
    keys.push(created.key);
  }
  return keys;
}

/** Alternating runs of each kind, `rounds` of each, at each connection count. */
export async function compareOrgKeys(
  verify: (connections: number, keys: string[]) => Promise<VerifyRun>,
  keysOf: Record<Kind, string[]>,
  { rounds, connectionCounts }: { rounds: number; connectionCounts: number[] },
): Promise<OrgKeyComparison[]> {
  // Warm both kinds' rows, plans and the JIT; not reported.
  for (const kind of kinds) await verify(16, keysOf[kind]);
  const comparisons: OrgKeyComparison[] = [];
  for (const connections of connectionCounts) {
    const runs: Record<Kind, VerifyRun[]> = { "user's keys": [], "organization's keys": [] };
    const loadBefore = loadAverage();
    for (let round = 0; round < rounds; round++) {
      for (const kind of round % 2 ? [...kinds].reverse() : kinds) {
        const run = await verify(connections, keysOf[kind]);
        runs[kind].push(run);
        console.log(
          `verify, ${kind.padEnd(19)} c=${String(connections).padStart(2)} round ${round + 1}: ${
            run.rps.toFixed(0)
          } req/s, p50 ${run.p50Ms.toFixed(2)} ms, p99 ${run.p99Ms.toFixed(2)} ms`,
        );
      }
    }
    comparisons.push({ connections, runs, load: [loadBefore, loadAverage()] });
  }
  return comparisons;
}

/** The organization's keys' median req/s over the user's keys', per connection count. */
export function orgKeyShares(
  comparisons: OrgKeyComparison[],
): { connections: number; share: number }[] {
  return comparisons.map(({ connections, runs }) => ({
    connections,
    share: median(runs["organization's keys"].map((run) => run.rps)) /
      median(runs["user's keys"].map((run) => run.rps)),
  }));
}

/** RESULTS.md's section, between its markers (a run of `-- --org-keys-only` replaces it). */
export function orgKeySection(
  comparisons: OrgKeyComparison[],
  { written, machine, seconds, rounds }: {
    written: string;
    machine: string;
    seconds: number;
    rounds: number;
  },
): string {
  const rows = comparisons.flatMap(({ connections, runs }) =>
    kinds.map((kind) => {
      const of = (pick: (run: VerifyRun) => number) => median(runs[kind].map(pick));
      const errors = runs[kind].reduce((sum, run) => sum + run.errors + run.non2xx, 0);
      return `| ${kind} | ${connections} | ${of((run) => run.rps).toFixed(0)} | ${
        runs[kind].map((run) => run.rps.toFixed(0)).join(", ")
      } | ${of((run) => run.p50Ms).toFixed(2)} | ${
        of((run) => run.p99Ms).toFixed(2)
      } | ${errors} |`;
    })
  );
  const shares = orgKeyShares(comparisons).map(({ connections, share }) =>
    `${share.toFixed(2)} at ${connections} connection${connections === 1 ? "" : "s"}`
  );
  const met = orgKeyShares(comparisons).every(({ share }) => share >= 0.9);
  return `<!-- org-keys:start -->
## Organizations' keys (\`deno task bench -- --org-keys-only\`)

Written on ${written}. Machine: ${machine}; the rest of the setup as at the top of this file (the
same gateway flags, pool, durability and \`warn\` logging). \`POST /keys/verify\` over 64 keys of
one user and over 64 keys of one organization, ${seconds} s a run, ${rounds} runs of each kind
alternating (the order flipped each round), after a warm-up of each; medians of the runs, every
run's req/s listed. An organization's key makes the key check join its organization (one
primary-key lookup, for the suspension and the ceiling) instead of its user.

| keys | connections | req/s (median) | each run's req/s | p50 ms | p99 ms | errors |
| --- | ---: | ---: | --- | ---: | ---: | ---: |
${rows.join("\n")}

Organization's keys / user's keys, median req/s: ${shares.join(", ")}. The machine's 1-minute
load average (2 cores; other work shares it) before and after each connection count's runs: ${
    comparisons.map(({ connections, load: [before, after] }) =>
      `${before.toFixed(1)} → ${after.toFixed(1)} (${connections})`
    ).join(", ")
  }.
Target (issue 29, item 5: within 10 %, ≥ 0.90): ${met ? "met" : "MISSED"}.
<!-- org-keys:end -->`;
}
