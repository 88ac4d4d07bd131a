import { freePort, startTestServer } from "../support/server.ts";
import { openInspector } from "./inspector.ts";

/**
 * Memory with the edge runtime's settings (issue 27, item 7): Deno 2.1 (the hosted line), no
 * hash worker (the edge runtime has none), no `--expose-gc`, while 10 clients at once sign in,
 * sign up and change passwords (each one or two argon2id hashes) for the run's seconds. The
 * server's own V8 reports its heap and external memory through the inspector every 100 ms;
 * RSS is the kernel's. A hosted isolate has 256 MB.
 */
export interface EdgeMemory {
  deno: string;
  seconds: number;
  requests: number;
  failures: number;
  hashingPerSecond: number;
  peakRssMb: number;
  peakHeapUsedMb: number;
  peakExternalMb: number;
  idleRssMb: number;
}

export const edgeDenoVersion = "2.1.4";

/** Deno 2.1.4's binary: this one when it is that, else the copy under .tools (as CI installs). */
async function edgeDeno(): Promise<string> {
  if (Deno.version.deno === edgeDenoVersion) return Deno.execPath();
  const root = new URL("../../", import.meta.url).pathname;
  const prefix = `${root}.tools/deno-${edgeDenoVersion}`;
  const binary = `${prefix}/node_modules/deno/deno`;
  try {
    await Deno.stat(binary);
  } catch {
    console.log(`installing Deno ${edgeDenoVersion} from npm into ${prefix}`);
    const installed = await new Deno.Command("npm", {
      args: ["install", "--prefix", prefix, "--no-audit", "--no-fund", `deno@${edgeDenoVersion}`],
      stdout: "null",
    }).output();
    if (!installed.success) throw new Error(`npm install deno@${edgeDenoVersion} failed`);
  }
  return binary;
}

const mb = (bytes: number) => bytes / 2 ** 20;

export async function measureEdgeMemory(
  databaseUrl: string,
  env: Record<string, string>,
  seconds: number,
): Promise<EdgeMemory> {
  const deno = await edgeDeno();
  const inspectPort = freePort();
  const server = await startTestServer(
    databaseUrl,
    {
      ...env,
      LATCHKEY_HASH_WORKERS: "0",
      // Every request from a client of its own: the sign-up throttle is not what is measured.
      LATCHKEY_TRUSTED_PROXY_HOPS: "1",
    },
    [`--inspect=127.0.0.1:${inspectPort}`],
    deno,
  );
  const inspector = await openInspector(inspectPort);
  try {
    const api = `${server.baseUrl}/functions/v1`;
    const client = () =>
      `2001:db8:${
        Array.from(crypto.getRandomValues(new Uint16Array(3)), (n) => n.toString(16)).join(":")
      }::1`;
    const post = async (path: string, body: unknown, token?: string) => {
      const response = await fetch(`${api}/auth/${path}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-forwarded-for": client(),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(body),
      });
      const answer = await response.json();
      return { ok: response.ok, answer };
    };
    const stamp = Date.now();
    const signUp = async (n: number) => {
      const email = `edge-memory-${stamp}-${n}@example.test`;
      const password = "edge memory passphrase 0";
      const { ok, answer } = await post("sign-up/email", { name: "Edge", email, password });
      if (!ok) throw new Error(`sign-up: ${JSON.stringify(answer)}`);
      return { email, password, token: answer.session.token as string, changes: 0 };
    };
    const people = await Promise.all(Array.from({ length: 10 }, (_, n) => signUp(n)));

    const usage = async () => {
      const { result } = await inspector.send("Runtime.evaluate", {
        expression: "JSON.stringify(Deno.memoryUsage())",
        returnByValue: true,
      });
      return JSON.parse(result.value) as { rss: number; heapUsed: number; external: number };
    };
    const idle = await usage();
    const peak = { ...idle };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const now = await usage();
        peak.rss = Math.max(peak.rss, now.rss);
        peak.heapUsed = Math.max(peak.heapUsed, now.heapUsed);
        peak.external = Math.max(peak.external, now.external);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();

    let requests = 0;
    let failures = 0;
    let hashes = 0;
    let signUps = people.length;
    const until = performance.now() + seconds * 1000;
    // Client i signs in, signs someone new up, changes its password: one, one and two hashes.
    await Promise.all(people.map(async (person) => {
      for (let step = 0; performance.now() < until; step++) {
        let outcome;
        if (step % 3 === 0) {
          outcome = await post("sign-in/email", { email: person.email, password: person.password });
          hashes += 1;
        } else if (step % 3 === 1) {
          signUps += 1;
          outcome = await post("sign-up/email", {
            name: "Edge",
            email: `edge-memory-${stamp}-${signUps}@example.test`,
            password: "edge memory passphrase",
          });
          hashes += 1;
        } else {
          const newPassword = `edge memory passphrase ${++person.changes}`;
          outcome = await post("change-password", {
            currentPassword: person.password,
            newPassword,
          }, person.token);
          if (outcome.ok) person.password = newPassword;
          hashes += 2;
        }
        requests += 1;
        if (!outcome.ok) failures += 1;
      }
    }));
    sampling = false;
    await sampler;
    return {
      deno: new TextDecoder().decode(
        (await new Deno.Command(deno, { args: ["--version"] }).output()).stdout,
      ).split("\n")[0],
      seconds,
      requests,
      failures,
      hashingPerSecond: hashes / seconds,
      peakRssMb: mb(peak.rss),
      peakHeapUsedMb: mb(peak.heapUsed),
      peakExternalMb: mb(peak.external),
      idleRssMb: mb(idle.rss),
    };
  } finally {
    inspector.close();
    await server.stop();
  }
}
