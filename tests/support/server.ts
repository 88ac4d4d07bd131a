import { startTaskDenoFlags, withDenoFlags } from "./start_flags.ts";

/** The real gateway (`functions/_local/start.ts`) as a child process, for HTTP tests. */
export interface TestServer {
  baseUrl: string;
  logPath: string;
  pid: number;
  /** Milliseconds from spawning the process to its first healthy answer. */
  startupMs: number;
  /** Its LATCHKEY_DATA_DIR. */
  dataDir: string;
  stop(): Promise<void>;
}

export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

export async function startTestServer(
  databaseUrl: string,
  env: Record<string, string> = {},
  denoFlags: string[] = [],
  /** Another Deno to serve with (the benchmark's edge-memory run uses Deno 2.1). */
  deno = Deno.execPath(),
): Promise<TestServer> {
  // A free port is free when asked, not when the server binds it: another worker's listener
  // (a receiver, an SMTP server, a browser) may take it in between. The server then says so
  // and exits; another port is tried.
  for (let attempt = 1;; attempt += 1) {
    try {
      return await startOnce(databaseUrl, env, denoFlags, deno);
    } catch (error) {
      if (!(error instanceof PortTaken) || attempt >= 5) throw error;
    }
  }
}

class PortTaken extends Error {}

async function startOnce(
  databaseUrl: string,
  env: Record<string, string>,
  denoFlags: string[],
  deno: string,
): Promise<TestServer> {
  const port = freePort();
  const spawnedAt = performance.now();
  const logPath = await Deno.makeTempFile({ prefix: "latchkey-server-", suffix: ".log" });
  // Its own data directory (the development signing key lives there), never the checkout's.
  const dataDir = env.LATCHKEY_DATA_DIR ?? await Deno.makeTempDir({ prefix: "latchkey-data-" });
  // The server writes its log straight to the file, as under a process manager: a pump in
  // this process would be a slow reader that backs the pipe up and stalls the server's writes.
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      'log="$1"; shift; exec "$@" >>"$log" 2>&1',
      "sh",
      logPath,
      deno,
      "run",
      "--allow-all",
      ...withDenoFlags(await startTaskDenoFlags(), denoFlags),
      new URL("../../functions/_local/start.ts", import.meta.url).pathname,
    ],
    env: {
      // "": none, the embedded default.
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      LATCHKEY_PORT: String(port),
      LATCHKEY_ENV: "test",
      LATCHKEY_DATA_DIR: dataDir,
      NO_COLOR: "1",
      ...env,
    },
    stdout: "null",
    stderr: "null",
  }).spawn();

  const baseUrl = `http://127.0.0.1:${port}`;
  // Generous: the embedded PGlite migrating itself on a machine the parallel suite keeps busy.
  const deadline = Date.now() + 120_000;
  let exited = false;
  child.status.then(() => exited = true);
  while (true) {
    if (exited) {
      const log = await Deno.readTextFile(logPath).catch(() => "");
      if (/is already in use/.test(log)) {
        if (!env.LATCHKEY_DATA_DIR) await Deno.remove(dataDir, { recursive: true }).catch(() => {});
        throw new PortTaken(`port ${port} was taken`);
      }
      throw new Error(`the server exited at start-up; see ${logPath}`);
    }
    try {
      const response = await fetch(`${baseUrl}/functions/v1/version/health`);
      await response.body?.cancel();
      if (response.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`the server did not start; see ${logPath}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    baseUrl,
    logPath,
    pid: child.pid,
    startupMs: performance.now() - spawnedAt,
    dataDir,
    async stop() {
      if (!exited) child.kill("SIGTERM");
      await child.status;
      if (!env.LATCHKEY_DATA_DIR) await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}

/** A process's resident memory now, in MB. */
export function rssMb(pid: number): number {
  let status: string;
  try {
    status = Deno.readTextFileSync(`/proc/${pid}/status`);
  } catch {
    throw new Error(`the server (pid ${pid}) is gone: out of memory? Its log says.`);
  }
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}
