/**
 * What `deno task test` needs beyond Deno, installed on first use: newman and the Supabase CLI
 * from npm into `.tools/`, and from Debian packages (as root, or with password-less sudo)
 * chromium for the browser test, pgTAP for the SQL proofs, PgBouncer for the pooler tests and jq
 * for the README's commands.
 * Each returns null/false when it cannot, and the runner says loudly what was not run.
 */

const root = new URL("../../", import.meta.url).pathname;

export async function which(program: string): Promise<boolean> {
  const result = await new Deno.Command("sh", {
    args: ["-c", `command -v ${program}`],
    stdout: "null",
  }).output();
  return result.success;
}

async function isFile(path: string): Promise<boolean> {
  return await Deno.stat(path).then((info) => info.isFile, () => false);
}

/** apt-get install, with one `apt-get update` and retry when the package lists are stale. */
async function aptInstall(packages: string[]): Promise<boolean> {
  if (!(await which("apt-get"))) return false;
  const sudo = Deno.uid() === 0 ? [] : ["sudo", "-n"];
  if (sudo.length && !(await which("sudo"))) return false;
  console.log(`installing ${packages.join(", ")} with apt-get ...`);
  const aptGet = async (args: string[]) => {
    const [program, ...rest] = [...sudo, "apt-get", ...args];
    const result = await new Deno.Command(program, {
      args: rest,
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdout: "null",
      stderr: "null",
    }).output();
    return result.success;
  };
  const install = ["install", "-y", "--no-install-recommends", ...packages];
  return await aptGet(install) || (await aptGet(["update"]) && await aptGet(install));
}

/** Debian's chromium (or LATCHKEY_CHROMIUM), for the API reference page test. */
export async function ensureChromium(): Promise<string | null> {
  const override = Deno.env.get("LATCHKEY_CHROMIUM");
  if (override) return await isFile(override) ? override : null;
  const path = "/usr/bin/chromium";
  if (await isFile(path)) return path;
  await aptInstall(["chromium"]);
  return await isFile(path) ? path : null;
}

async function directoryNames(path: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(path))).map((entry) => entry.name);
  } catch {
    return [];
  }
}

async function pgTapInstalled(): Promise<boolean> {
  if (!(await which("pg_prove"))) return false;
  for (const major of await directoryNames("/usr/share/postgresql")) {
    if (await isFile(`/usr/share/postgresql/${major}/extension/pgtap.control`)) {
      return true;
    }
  }
  return false;
}

/** pg_prove and the pgtap extension for the PostgreSQL the machine has. */
export async function ensurePgTap(): Promise<boolean> {
  if (await pgTapInstalled()) return true;
  await aptInstall([
    ...(await directoryNames("/usr/lib/postgresql")).map((major) => `postgresql-${major}-pgtap`),
    "libtap-parser-sourcehandler-pgtap-perl",
  ]);
  return await pgTapInstalled();
}

/** jq from Debian: README.md's examples pipe every answer through it (readme_commands_test). */
export async function ensureJq(): Promise<boolean> {
  if (await which("jq")) return true;
  await aptInstall(["jq"]);
  return await which("jq");
}

/** PgBouncer from Debian, to put a transaction pooler in front of the test database. */
export async function ensurePgBouncer(): Promise<string | null> {
  const path = "/usr/sbin/pgbouncer";
  if (await isFile(path)) return path;
  await aptInstall(["pgbouncer"]);
  return await isFile(path) ? path : null;
}

/**
 * A pinned npm package under .tools/<name>-<version> on first use; returns the path of its
 * script (run with Node.js), or null when npm cannot provide it.
 */
async function ensureNpmTool(pkg: string, version: string, script: string): Promise<string | null> {
  const tools = Deno.env.get("LATCHKEY_TOOLS_DIR") ?? `${root}.tools`;
  const prefix = `${tools}/${pkg}-${version}`;
  const path = `${prefix}/node_modules/${pkg}/${script}`;
  if (await isFile(path)) return path;
  if (!(await which("node")) || !(await which("npm"))) return null;
  console.log(`installing ${pkg} ${version} into .tools/ ...`);
  const install = await new Deno.Command("npm", {
    args: ["install", "--prefix", prefix, "--no-audit", "--no-fund", `${pkg}@${version}`],
    stdout: "null",
    stderr: "inherit",
  }).output();
  return install.success && await isFile(path) ? path : null;
}

/** newman, to run the Postman collection. */
export function ensureNewman(): Promise<string | null> {
  return ensureNpmTool("newman", "6.2.2", "bin/newman.js");
}

/**
 * The Supabase CLI (it brings its Go binary as @supabase/cli-linux-x64). The tests run it as
 * users do against a database URL: no Docker needed for db push, migration list and db advisors.
 */
export function ensureSupabaseCli(): Promise<string | null> {
  return ensureNpmTool("supabase", "3.1.0", "dist/supabase.js");
}
