import assert from "node:assert/strict";
import { pruneAudit, pruneBatch } from "../../../functions/_shared/audit/audit_retention.ts";
import { loadConfig } from "../../../functions/_shared/config/config.ts";
import { createDatabase } from "../../../functions/_shared/db/database.ts";
import { withDatabase } from "../../support/http.ts";
import { serveFunctions } from "../../support/in_process.ts";

/**
 * LATCHKEY_AUDIT_RETENTION_DAYS: events past it go in batches; newer ones stay; the log stays
 * append-only for everyone but the pruner, which may not touch the last day either.
 */

async function countOld(tag: string) {
  const [{ count }] = await withDatabase((sql) =>
    sql<{ count: number }[]>`
      select count(*)::int as count from latchkey.audit_events where request_id like ${tag + "%"}`
  );
  return count;
}

async function plant(tag: string, rows: number, age: string) {
  await withDatabase((sql) =>
    sql`
      insert into latchkey.audit_events (actor_kind, action, request_id, created_at)
      select 'system', 'retention.fixture', ${tag} || g, now() - ${age}::interval - g * interval '1 ms'
      from generate_series(1, ${rows}) g`
  );
}

Deno.test("pruning deletes what is past retention in batches and keeps the rest", async () => {
  const tag = `retention-${crypto.randomUUID().slice(0, 8)}-`;
  await plant(`${tag}old-`, pruneBatch * 2 + 1234, "400 days");
  await plant(`${tag}recent-`, 25, "2 days");
  const config = loadConfig({
    LATCHKEY_DB_URL: Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!,
    LATCHKEY_LOG_LEVEL: "silent",
  });
  const runtime = { config, sql: createDatabase(config) };
  try {
    const [{ batches }] = await runtime.sql<{ batches: number[] }[]>`
      select array[latchkey.prune_audit_events(365, ${pruneBatch}),
        latchkey.prune_audit_events(365, ${pruneBatch})] as batches`;
    assert.deepEqual(batches, [pruneBatch, pruneBatch], "bounded batches");
    // A run has a budget (other tests' old events may be in line first): run until done.
    let deleted = 0;
    for (let run = await pruneAudit(runtime, 365); run > 0; run = await pruneAudit(runtime, 365)) {
      deleted += run;
    }
    assert.ok(deleted >= 1234, String(deleted));
    assert.equal(await countOld(`${tag}old-`), 0);
    assert.equal(await countOld(`${tag}recent-`), 25, "within retention: kept");
    await assert.rejects(
      () => runtime.sql`select latchkey.prune_audit_events(0, 10)`,
      /at least one day/,
    );
  } finally {
    await runtime.sql.end();
  }
  // Append-only for the functions' own login, whatever the rows' age.
  await assert.rejects(
    () =>
      withDatabase((sql) =>
        sql`delete from latchkey.audit_events where request_id like ${tag + "%"}`
      ),
    /append-only/,
  );
});

Deno.test("an isolate with a retention prunes after a request, off its path, and audits it", async () => {
  const tag = `retention-app-${crypto.randomUUID().slice(0, 8)}-`;
  await plant(tag, 300, "100 days");
  const served = serveFunctions({ LATCHKEY_AUDIT_RETENTION_DAYS: "90" });
  try {
    const answer = await served.call("GET", "/auth/.well-known/jwks.json");
    assert.equal(answer.status, 200);
    const deadline = Date.now() + 30_000;
    while (await countOld(tag) > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(await countOld(tag), 0);
    const [pruned] = await withDatabase((sql) =>
      sql<{ metadata: { deleted: number; retentionDays: number } }[]>`
        select metadata from latchkey.audit_events
        where action = 'audit.pruned' order by created_at desc limit 1`
    );
    assert.equal(pruned.metadata.retentionDays, 90);
    assert.ok(pruned.metadata.deleted >= 300);
  } finally {
    await served.close();
  }
});
