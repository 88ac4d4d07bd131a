import { parseArgs } from "node:util";
import { taskArgs } from "./task_args.ts";
import { generateApiKey } from "../_shared/keys/api_key_format.ts";
import { runWithDatabase } from "./database_target.ts";
import { applyMigrations } from "./migrate.ts";

/**
 * `deno task bootstrap -- --service-account terraform --out key.txt`: for automation with no
 * admin key configured. Finds or creates the service account, gives it a new admin-scoped API
 * key, and writes the key to a file only its owner can read. Prints the key's id and prefix,
 * never the key.
 */
const { values } = parseArgs({
  args: taskArgs(),
  options: {
    "service-account": { type: "string" },
    out: { type: "string" },
  },
});
const name = values["service-account"];
const out = values.out;
if (!name || !out) {
  console.error("usage: deno task bootstrap -- --service-account <name> --out <file>");
  Deno.exit(2);
}

await runWithDatabase("deno task bootstrap", async (sql, _target, config) => {
  await applyMigrations(sql);
  const generated = generateApiKey(config.LATCHKEY_KEY_PREFIX);
  let keyId: string;
  try {
    [{ key_id: keyId }] = await sql<{ key_id: string }[]>`
      select latchkey.bootstrap_service_key(
        ${name}, ${generated.keyPrefix}, decode(${generated.keyHashHex}, 'hex')) as key_id`;
  } catch (error) {
    console.error(`latchkey: ${(error as Error).message}`);
    Deno.exitCode = 1;
    return;
  }
  // Create (or empty) the file with mode 0600 before the secret goes in.
  await Deno.writeTextFile(out, "", { mode: 0o600 });
  await Deno.chmod(out, 0o600);
  await Deno.writeTextFile(out, `${generated.key}\n`);
  console.log(
    `service account ${name}: new admin key ${keyId} (${generated.keyPrefix}…) written to ${out} (mode 0600)`,
  );
});
