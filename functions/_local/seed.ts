import { parseArgs } from "node:util";
import { taskArgs } from "./task_args.ts";
import type { Config } from "../_shared/config/config.ts";
import { type Sql, sqlState } from "../_shared/db/database.ts";
import { hashPassword } from "../_shared/passwords/passwords.ts";
import { applyMigrations } from "./migrate.ts";

const seedFile = new URL("../../sql/seed.sql", import.meta.url);

export type SeedOutcome = "created" | "unchanged" | "promoted" | "skipped";

/** The seed refused to act (a self-registered account holds the bootstrap email). */
export class SeedRefused extends Error {
  constructor(message: string, readonly detail: string) {
    super(message);
    this.name = "SeedRefused";
  }
}

/**
 * Runs `sql/seed.sql` with the bootstrap configuration bound as transaction settings, the
 * same file `supabase db reset` runs (where nothing is bound and it does nothing).
 */
export async function runSeed(
  sql: Sql,
  config: Config,
  options: { promoteExisting?: boolean } = {},
): Promise<SeedOutcome> {
  // With Supabase Auth as identity no account is made here: the admin signs up there, and is
  // promoted once Supabase Auth has confirmed the address (authenticate_supabase_user).
  const email = config.LATCHKEY_IDENTITY === "supabase"
    ? ""
    : config.LATCHKEY_BOOTSTRAP_ADMIN_EMAIL ?? "";
  const passwordHash = config.LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD_HASH ??
    (email && config.LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD
      ? await hashPassword(config.LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD)
      : "");
  const statements = await Deno.readTextFile(seedFile);
  try {
    const outcome = await sql.begin(async (tx) => {
      await tx`
        select set_config('latchkey.bootstrap_admin_email', ${email}, true),
          set_config('latchkey.bootstrap_admin_password_hash', ${passwordHash}, true),
          set_config('latchkey.bootstrap_promote_existing',
            ${options.promoteExisting ? "true" : "false"}, true)`;
      const rows = await tx.unsafe(statements);
      return rows[0].latchkey_bootstrap as SeedOutcome;
    });
    return outcome as SeedOutcome;
  } catch (error) {
    const hint = (error as { hint?: string }).hint;
    if (sqlState(error) === "P0001" && hint === "bootstrap_refused") {
      throw new SeedRefused((error as Error).message, (error as { detail?: string }).detail ?? "");
    }
    throw error;
  }
}

export function describeSeedOutcome(outcome: SeedOutcome, config: Config): string {
  const email = config.LATCHKEY_BOOTSTRAP_ADMIN_EMAIL;
  switch (outcome) {
    case "created":
      return `bootstrap admin ${email}: created`;
    case "promoted":
      return `bootstrap admin ${email}: promoted the existing account (audited; its sessions revoked)`;
    case "unchanged":
      return `bootstrap admin ${email}: exists, nothing changed`;
    case "skipped":
      return config.LATCHKEY_IDENTITY === "supabase" && email
        ? `bootstrap admin ${email}: made admin once Supabase Auth has confirmed the address`
        : "bootstrap admin: LATCHKEY_BOOTSTRAP_ADMIN_EMAIL is not set, nothing to seed";
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: taskArgs(),
    options: { "promote-existing": { type: "boolean", default: false } },
  });
  const { runWithDatabase } = await import("./database_target.ts");
  await runWithDatabase("deno task db:seed", async (sql, target, config) => {
    const applied = await applyMigrations(sql);
    console.log(`${target.description}: ${applied.length} migration(s) applied`);
    try {
      const outcome = await runSeed(sql, config, { promoteExisting: values["promote-existing"] });
      console.log(describeSeedOutcome(outcome, config));
    } catch (error) {
      if (!(error instanceof SeedRefused)) throw error;
      console.error(`latchkey: ${error.message}. ${error.detail}`);
      Deno.exitCode = 1;
    }
  });
}
