import type { Runtime } from "../db/runtime.ts";
import { sqlState, withStatementTimeout } from "../db/database.ts";
import { log } from "../config/log.ts";
import { hashPassword } from "../passwords/passwords.ts";

/**
 * The first admin, from the functions' own secrets. On a hosted project nothing of ours runs
 * after `supabase functions deploy`, and `supabase db push --include-seed` runs the seed with
 * nothing bound; so before its first request each isolate makes sure the configured admin
 * exists: one cheap query when it does, otherwise `latchkey.bootstrap_admin` (an advisory lock
 * makes racing isolates create one account; idempotent; audited; never promotes a stranger who
 * signed up with that email — then it logs the refusal and serves on).
 */
const ensured = new WeakMap<Runtime, Promise<void>>();

export function ensureFirstAdmin(runtime: Runtime): Promise<void> {
  let done = ensured.get(runtime);
  if (!done) {
    done = createFirstAdmin(runtime).catch((error) => {
      // Not remembered: the database may be back for the next request.
      ensured.delete(runtime);
      throw error;
    });
    ensured.set(runtime, done);
  }
  return done;
}

async function createFirstAdmin({ config, sql }: Runtime): Promise<void> {
  // With Supabase Auth as the identity source the admin signs up there; their Latchkey user
  // becomes admin once Supabase Auth has confirmed the address (authenticate_supabase_user).
  if (config.LATCHKEY_IDENTITY === "supabase") return;
  const email = config.LATCHKEY_BOOTSTRAP_ADMIN_EMAIL;
  const password = config.LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD;
  const givenHash = config.LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD_HASH;
  if (!email || (!password && !givenHash)) return;
  const [{ exists }] = await withStatementTimeout(
    sql,
    sql<{ exists: boolean }[]>`
      select exists (select from latchkey.users where lower(email) = lower(${email}))`,
  );
  if (exists) return;
  const passwordHash = givenHash ?? await hashPassword(password!);
  try {
    const [{ outcome }] = await withStatementTimeout(
      sql,
      sql<{ outcome: string }[]>`
        select latchkey.bootstrap_admin(${email}, ${passwordHash}, false) as outcome`,
    );
    log("info", "bootstrap_admin", { outcome });
  } catch (error) {
    if (sqlState(error) !== "P0001" || (error as { hint?: string }).hint !== "bootstrap_refused") {
      throw error;
    }
    log("error", "bootstrap_admin_refused", {
      message: (error as Error).message,
      detail: (error as { detail?: string }).detail,
    });
  }
}
