import { parseArgs } from "node:util";
import { taskArgs } from "./task_args.ts";
import { runWithDatabase } from "./database_target.ts";

/** `deno task promote -- <email> [--role admin]`: latchkey.promote_user, for people not in psql. */
const { values, positionals } = parseArgs({
  args: taskArgs(),
  allowPositionals: true,
  options: { role: { type: "string", default: "admin" } },
});
if (positionals.length !== 1) {
  console.error("usage: deno task promote -- <email> [--role user|support|admin]");
  Deno.exit(2);
}
await runWithDatabase("deno task promote", async (sql) => {
  try {
    await sql`select latchkey.promote_user(${positionals[0]}, ${values.role!})`;
    console.log(`${positionals[0]} is now ${values.role} (audited; their sessions were revoked)`);
  } catch (error) {
    console.error(`latchkey: ${(error as Error).message}`);
    Deno.exitCode = 1;
  }
});
