import type { Config } from "../_shared/config/config.ts";

/**
 * A secret the start command makes outside production when the configuration has none, kept
 * (mode 0600) under LATCHKEY_DATA_DIR so that what it protects survives a restart. Production
 * never gets one: there an unconfigured deployment says what to set.
 */
export interface KeptSecret {
  text: string;
  path: string;
  /** What the start banner says about it. */
  note: string;
}

export async function keptDevelopmentSecret(
  config: Config,
  fileName: string,
  make: () => Promise<string> | string,
): Promise<KeptSecret> {
  const path = `${config.LATCHKEY_DATA_DIR}/${fileName}`;
  let text = await Deno.readTextFile(path).catch(() => null);
  const made = text === null;
  if (text === null) {
    text = await make();
    await Deno.mkdir(config.LATCHKEY_DATA_DIR, { recursive: true });
    await Deno.writeTextFile(path, text, { mode: 0o600 });
  }
  return {
    text,
    path,
    note: `development key in ${path} (${made ? "made now" : "kept"}; never in production)`,
  };
}
