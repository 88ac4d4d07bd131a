import assert from "node:assert/strict";
import postgres from "postgres";
import { applyMigrations } from "../../functions/_local/migrate.ts";
import { dumpSchema } from "../../build/schema_dump.ts";
import { createPlatformDatabase } from "../support/database.ts";

/**
 * sql/schema.sql is schema latchkey as the migrations leave it, dumped from a fresh database
 * set up as Supabase sets one up and migrated here. `deno task db:schema` runs this test with
 * LATCHKEY_WRITE_SCHEMA=1 to write the file instead of comparing.
 */

const superuserUrl = Deno.env.get("LATCHKEY_TEST_SUPERUSER_URL");
const schemaFile = new URL("../../sql/schema.sql", import.meta.url);

Deno.test({
  name: "sql/schema.sql is what the migrations make (deno task db:schema writes it)",
  ignore: !superuserUrl,
  async fn() {
    const name = `latchkey_schema_${crypto.randomUUID().replaceAll("-", "")}`;
    const url = await createPlatformDatabase(superuserUrl!, name);
    const sql = postgres(url, { max: 1, prepare: false, onnotice: () => {} });
    try {
      await applyMigrations(sql);
      const dumped = await dumpSchema(sql);
      if (Deno.env.get("LATCHKEY_WRITE_SCHEMA") === "1") {
        await Deno.writeTextFile(schemaFile, dumped);
        console.log(`wrote ${schemaFile.pathname}`);
        return;
      }
      const committed = await Deno.readTextFile(schemaFile).catch(() => "");
      if (committed !== dumped) {
        const [was, is] = [committed.split("\n"), dumped.split("\n")];
        const line = is.findIndex((text, index) => text !== was[index]);
        assert.fail(
          "sql/schema.sql is stale: run `deno task db:schema` and commit it with the migration " +
            `(first difference at line ${line + 1}: file ${JSON.stringify(was[line])}, ` +
            `database ${JSON.stringify(is[line])})`,
        );
      }
      assert.match(dumped, /create or replace function latchkey\.check_api_key\(/i);
      assert.match(dumped, /create table latchkey\.api_keys \(/);
    } finally {
      await sql.end();
      const admin = postgres(new URL("/postgres", superuserUrl).toString(), {
        max: 1,
        onnotice: () => {},
      });
      await admin.unsafe(`drop database if exists "${name}" with (force)`).catch(() => {});
      await admin.end();
    }
  },
});

Deno.test("every table of schema latchkey has a pgTAP proof of who may read and write it", async () => {
  const schemaText = await Deno.readTextFile(schemaFile);
  const tables = [...schemaText.matchAll(/^create table latchkey\.(\w+) \(/gm)].map((m) => m[1]);
  assert.ok(tables.length >= 15, `${tables.length} tables in sql/schema.sql`);
  let proofs = "";
  for await (const entry of Deno.readDir(new URL("../db/", import.meta.url))) {
    if (entry.name.endsWith("_test.sql")) {
      proofs += await Deno.readTextFile(new URL(`../db/${entry.name}`, import.meta.url));
    }
  }
  const unproven = tables.filter((table) =>
    !new RegExp(`latchkey\\.${table}\\b|'${table}'`).test(proofs)
  );
  assert.deepEqual(unproven, [], "tables without a proof in tests/db");
});
