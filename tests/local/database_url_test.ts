import assert from "node:assert/strict";
import { loadConfig } from "../../functions/_shared/config/config.ts";
import { createDatabase } from "../../functions/_shared/db/database.ts";

/**
 * A URL written for another client still connects: `pgbouncer=true` (Prisma's hint, common in
 * Supabase pooler URLs) reached PostgreSQL as a startup parameter and the connection was refused
 * ("unrecognized configuration parameter"). Against the real test database.
 */
Deno.test("pooler hints in the URL are not sent to PostgreSQL; prepared statements follow them", async () => {
  const url = new URL(Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!);
  url.searchParams.set("pgbouncer", "true");
  url.searchParams.set("connection_limit", "1");
  const config = loadConfig({ LATCHKEY_DB_URL: url.toString(), LATCHKEY_LOG_LEVEL: "silent" });
  const sql = createDatabase(config);
  try {
    const [row] = await sql`select current_setting('application_name') as name, 1 as one`;
    assert.deepEqual({ ...row }, { name: "latchkey", one: 1 });
    assert.equal(sql.options.prepare, false, "pgbouncer=true still turns prepared statements off");
    assert.equal(sql.options.max, 2, "an edge isolate's default pool");
  } finally {
    await sql.end();
  }
});
