import assert from "node:assert/strict";
import postgres from "postgres";
import { applyMigrations } from "../../../functions/_local/migrate.ts";
import { keysPageQuery, listKeysQuery } from "../../../functions/admin/routes/admin_keys.ts";
import { auditPageQuery, listAuditQuery } from "../../../functions/admin/routes/list_audit.ts";
import { listUsersQuery, usersPageQuery } from "../../../functions/admin/routes/list_users.ts";
import { type Transaction, withCaller } from "../../../functions/_shared/db/database.ts";
import {
  cursorColumn,
  type CursorPosition,
  keysetOf,
} from "../../../functions/_shared/http/pagination.ts";
import { adminKeyPrincipal } from "../../../functions/_shared/identity/static_admin_key_check.ts";
import { createPlatformDatabase } from "../../support/database.ts";

/**
 * The admin lists' queries stay index-backed under RLS (issue: at 1M users a filter the planner
 * could not push below the policies scanned the whole table). Each route's own query, as the
 * route builds it, is EXPLAINed as the caller on a few thousand rows with sequential scans
 * priced out: a filter that can use an index does, and one that cannot shows a Seq Scan.
 */

const superuserUrl = Deno.env.get("LATCHKEY_TEST_SUPERUSER_URL");

const request = { requestId: "plans", ip: null, userAgent: null };

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

Deno.test({
  name: "admin list filters are index scans under RLS, never a sequential scan",
  ignore: !superuserUrl,
  async fn() {
    const url = await createPlatformDatabase(
      superuserUrl!,
      `plans_${crypto.randomUUID().slice(0, 8)}`,
    );
    const sql = postgres(url, { max: 1, prepare: false, onnotice: () => {} });
    try {
      await applyMigrations(sql);
      await sql.unsafe(`
        insert into latchkey.users (email, name, role, tier, created_at)
        select 'person' || g || '@example.test', 'Person ' || g,
          case when g % 1000 = 0 then 'admin' else 'user' end,
          case when g % 50 = 0 then 'pro' else 'free' end,
          now() - g * interval '1 second'
        from generate_series(1, 5000) g;
        insert into latchkey.audit_events (actor_kind, actor_user_id, action, target_kind,
          target_id, created_at)
        select 'session', u.id, case when g % 3 = 0 then 'auth.sign_in' else 'auth.sign_out' end,
          'user', u.id, now() - g * interval '1 second'
        from generate_series(1, 5000) g
        join latchkey.users u on u.email = 'person' || (g % 100 + 1) || '@example.test';
        -- A busy deployment's keys: all used within the hour but three, unused for months.
        insert into latchkey.api_keys (user_id, name, key_prefix, key_hash, created_at,
          last_used_at)
        select u.id, 'key', 'lk_' || lpad(g::text, 9, '0'), sha256(convert_to('plan-key-' || g, 'UTF8')),
          now() - interval '400 days' + g * interval '1 minute',
          case when g % 1700 = 0 then now() - interval '90 days' else now() - interval '1 hour' end
        from generate_series(1, 5000) g
        join latchkey.users u on u.email = 'person' || (g % 100 + 1) || '@example.test';
        -- An organization's few keys among them.
        insert into latchkey.organizations (id, name, slug)
        values ('5e000000-0000-4000-8000-000000000001', 'Planned', 'planned');
        insert into latchkey.api_keys (org_id, name, key_prefix, key_hash)
        select '5e000000-0000-4000-8000-000000000001', 'org key', 'lk_o' || lpad(g::text, 8, '0'),
          sha256(convert_to('plan-org-key-' || g, 'UTF8'))
        from generate_series(1, 20) g;
        -- One person in ten with a confirmed authenticator app.
        insert into latchkey.mfa_factors (id, user_id, type, name, secret_ciphertext, confirmed_at)
        select gen_random_uuid(), u.id, 'totp', 'Phone', decode(repeat('00', 40), 'hex'), now()
        from latchkey.users u where u.email like 'person%0@example.test';
        analyze latchkey.mfa_factors;
        analyze latchkey.users;
        analyze latchkey.api_keys;
        analyze latchkey.audit_events;`);
      const [someone] = await sql<{ id: string }[]>`
        select id from latchkey.users where email = 'person42@example.test'`;
      const cursor: CursorPosition = {
        createdAt: new Date(Date.now() - 2500_000).toISOString().replace("Z", "000Z"),
        id: someone.id,
      };

      // deno-lint-ignore no-explicit-any -- any page query of the routes
      const explain = (build: (tx: Transaction) => postgres.PendingQuery<any>) =>
        withCaller(sql, adminKeyPrincipal, request, async (tx) => {
          await tx`set local enable_seqscan = off`;
          const [row] = await tx<{ "QUERY PLAN": [{ Plan: PlanNode }] }[]>`
            explain (format json) ${build(tx)}`;
          return nodes(row["QUERY PLAN"][0].Plan);
        });

      const userCases: Record<string, Record<string, unknown>> = {
        "email": { email: "PERSON42@example.test" },
        "role": { role: "admin" },
        "tier": { tier: "pro" },
        "q": { q: "son4" },
        "role and q": { role: "user", q: "erson 12" },
        "banned": { banned: "true" },
        "banned and q": { banned: "true", q: "son4" },
        "no second factor": { secondFactor: "false" },
        "a second factor and q": { secondFactor: "true", q: "son4" },
        "no filter, deep cursor": { cursor: "x" },
      };
      for (const [name, raw] of Object.entries(userCases)) {
        const query = listUsersQuery.parse({ ...raw, cursor: undefined });
        const at = raw.cursor ? cursor : null;
        const plan = await explain((tx) =>
          usersPageQuery(tx, query, at, keysetOf(tx, at, query.limit), cursorColumn(tx))
        );
        const onUsers = plan.filter((node) => node["Relation Name"] === "users");
        assert.ok(onUsers.length > 0, name);
        for (const node of onUsers) {
          assert.notEqual(node["Node Type"], "Seq Scan", `${name}: ${JSON.stringify(plan)}`);
        }
        // Each row's factors (and the secondFactor filter) through the factors' user_id index.
        for (const node of plan.filter((node) => node["Relation Name"] === "mfa_factors")) {
          assert.notEqual(node["Node Type"], "Seq Scan", `${name}: ${JSON.stringify(plan)}`);
        }
        const wanted: Record<string, string> = {
          email: "users_email_lower_idx",
          banned: "users_banned_created_at_id_idx",
        };
        if (wanted[name]) {
          assert.ok(
            onUsers.some((node) => node["Index Name"] === wanted[name]),
            `${name}: ${JSON.stringify(plan)}`,
          );
        }
      }

      // The search function's own query can be served by the trigram index (on a few thousand
      // rows the planner rightly prefers walking the newest-first index, so that walk is priced
      // out too; at a million rows and a rare pattern it picks the trigram index by itself).
      const search = await sql.begin(async (tx) => {
        await tx`set local enable_seqscan = off`;
        await tx`set local enable_indexscan = off`;
        const [row] = await tx<{ "QUERY PLAN": [{ Plan: PlanNode }] }[]>`
          explain (format json) select u.id from latchkey.users u
          where u.search_text like '%son4242%'
          order by u.created_at desc, u.id desc limit 51`;
        return row["QUERY PLAN"];
      });
      assert.ok(
        nodes(search[0].Plan).some((node) => node["Index Name"] === "users_search_text_trgm_idx"),
        JSON.stringify(search),
      );

      // The few stale keys among many busy ones: found on their own index, not by walking every
      // key newest first (which a plan without Seq Scans would also allow).
      const stale = await explain((tx) =>
        keysPageQuery(
          tx,
          listKeysQuery.parse({ unusedForDays: "30" }),
          keysetOf(tx, null, 50),
          cursorColumn(tx),
        )
      );
      assert.ok(
        stale.some((node) => node["Index Name"] === "api_keys_last_active_at_idx"),
        `unusedForDays: ${JSON.stringify(stale)}`,
      );

      // An organization's keys, on their own index (newest first).
      const orgKeys = await explain((tx) =>
        keysPageQuery(
          tx,
          listKeysQuery.parse({ orgId: "5e000000-0000-4000-8000-000000000001" }),
          keysetOf(tx, null, 50),
          cursorColumn(tx),
        )
      );
      assert.ok(
        orgKeys.some((node) => node["Index Name"] === "api_keys_org_id_created_at_idx"),
        `orgId: ${JSON.stringify(orgKeys)}`,
      );

      const auditCases: Record<string, Record<string, unknown>> = {
        "actor": { actorId: someone.id },
        "target": { targetId: someone.id },
        "subject (the user, their keys and sessions)": { subject: someone.id },
        "action": { action: "auth.sign_in" },
        "time range": { since: new Date(Date.now() - 3600_000).toISOString() },
        "actor with a cursor": { actorId: someone.id, cursor: "x" },
      };
      for (const [name, raw] of Object.entries(auditCases)) {
        const query = listAuditQuery.parse({ ...raw, cursor: undefined });
        const at = raw.cursor ? cursor : null;
        const plan = await explain((tx) =>
          auditPageQuery(tx, query, keysetOf(tx, at, query.limit), cursorColumn(tx))
        );
        for (const node of plan.filter((node) => node["Relation Name"] === "audit_events")) {
          assert.notEqual(node["Node Type"], "Seq Scan", `${name}: ${JSON.stringify(plan)}`);
        }
      }
    } finally {
      await sql.end();
    }
  },
});
