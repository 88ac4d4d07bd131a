import assert from "node:assert/strict";
import { loadConfig } from "../../functions/_shared/config/config.ts";
import {
  isDatabaseUnavailable,
  usePreparedStatements,
} from "../../functions/_shared/db/database.ts";

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

Deno.test("a failed socket call is the database being unavailable, whatever its code", () => {
  // As Deno 2.1's node:net reports a write to a connection PostgreSQL dropped (a 500 in CI).
  const writeUnknown = Object.assign(new Error("write UNKNOWN"), {
    code: "UNKNOWN",
    errno: "UNKNOWN",
    syscall: "write",
  });
  assert.equal(isDatabaseUnavailable(writeUnknown), true);
  assert.equal(isDatabaseUnavailable(Object.assign(new Error("x"), { code: "EPIPE" })), true);
  assert.equal(isDatabaseUnavailable(Object.assign(new Error("x"), { code: "57P01" })), true);
  // A request's own mistake is not.
  assert.equal(isDatabaseUnavailable(Object.assign(new Error("x"), { code: "23505" })), false);
  assert.equal(isDatabaseUnavailable(new Error("plain")), false);
});
