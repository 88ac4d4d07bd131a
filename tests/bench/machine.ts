/** The machine and the versions a benchmark ran on, for the top of its results. */
export async function machineDetails(): Promise<string> {
  const cpu = /model name\s*:\s*(.*)/.exec(await Deno.readTextFile("/proc/cpuinfo"))?.[1] ??
    "unknown CPU";
  const memKb = Number(/MemTotal:\s+(\d+)/.exec(await Deno.readTextFile("/proc/meminfo"))?.[1]);
  const pgVersion = new TextDecoder().decode(
    (await new Deno.Command("sh", {
      args: ["-c", "$(ls /usr/lib/postgresql/*/bin/postgres | tail -1) --version"],
      stdout: "piped",
    }).output()).stdout,
  ).trim();
  return `${navigator.hardwareConcurrency} cores (${cpu}), ${
    (memKb / 1024 / 1024).toFixed(0)
  } GiB RAM; Deno ${Deno.version.deno}; ${pgVersion}; load generated on the same machine`;
}

/** The server's variables that differ from the shipped defaults; secrets by name only. */
export function settingsLine(env: Record<string, string>): string {
  return Object.keys(env).map((name) =>
    /PASSWORD|SIGNING_KEYS|SECRET|ADMIN_KEY|ENCRYPTION_KEY/.test(name)
      ? `\`${name}\``
      : `\`${name}=${env[name]}\``
  ).join(", ");
}
