import assert from "node:assert/strict";
import { loadConfig } from "../../functions/_shared/config/config.ts";
import { usePreparedStatements } from "../../functions/_shared/db/database.ts";

Deno.test("prepared statements are on, except through a transaction pooler", () => {
  const auto = loadConfig({});
  assert.equal(usePreparedStatements(auto, "postgres://u@db.example:5432/postgres"), true);
  assert.equal(usePreparedStatements(auto, "postgres://u@pooler.example:6543/postgres"), false);
  assert.equal(usePreparedStatements(auto, "postgres://u@h:5432/db?pgbouncer=true"), false);
  const forcedOn = loadConfig({ LATCHKEY_DB_PREPARE: "true" });
  assert.equal(usePreparedStatements(forcedOn, "postgres://u@pooler.example:6543/postgres"), true);
  const forcedOff = loadConfig({ LATCHKEY_DB_PREPARE: "false" });
  assert.equal(usePreparedStatements(forcedOff, "postgres://u@db.example:5432/postgres"), false);
});
