import assert from "node:assert/strict";
import postgres from "postgres";
import { applyMigrations } from "../../../functions/_local/migrate.ts";
import { keysPageQuery, listKeysQuery } from "../../../functions/admin/routes/admin_keys.ts";
import { auditPageQuery, listAuditQuery } from "../../../functions/admin/routes/list_audit.ts";
import { listUsersQuery, usersPageQuery } from "../../../functions/admin/routes/list_users.ts";
import { listOrgsQuery, orgsPageQuery } from "../../../functions/admin/routes/admin_orgs.ts";
import { openInvitationsQuery } from "../../../functions/orgs/routes/invitations.ts";
import { myOrgsPageQuery } from "../../../functions/orgs/routes/list_orgs.ts";
import { membersPageQuery } from "../../../functions/_shared/orgs/organizations.ts";
import type { Principal } from "../../../functions/_shared/ground/principal.ts";
import { type Transaction, withCaller } from "../../../functions/_shared/db/database.ts";
import {
  cursorColumn,
  type CursorPosition,
  keysetOf,
} from "../../../functions/_shared/http/pagination.ts";
import { adminKeyPrincipal } from "../../../functions/_shared/identity/static_admin_key_check.ts";
import { createPlatformDatabase } from "../../support/database.ts";
import { joinOrgs, loadOrgs } from "../../support/org_shape.ts";

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
  Filter?: string;
  Plans?: PlanNode[];
}

// deno-lint-ignore no-explicit-any -- any page query of the routes
type PageQuery = (tx: Transaction) => postgres.PendingQuery<any>;

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
      // Organizations shaped as bench:scale shapes them, a tenth of its size, and a member of
      // many, an admin of the big one (its invitations), as the session whose lists are read.
      const orgShape = { users: 5000, orgs: 500, memberships: 5000 };
      await loadOrgs(sql, orgShape);
      const [orgCaller] = await sql<{ id: string }[]>`
        insert into latchkey.users (email, name, role) values ('orgs@example.test', 'Orgs', 'user')
        returning id`;
      const orgs = await joinOrgs(sql, orgCaller.id, orgShape);
      const [someone] = await sql<{ id: string }[]>`
        select id from latchkey.users where email = 'person42@example.test'`;
      const cursor: CursorPosition = {
        createdAt: new Date(Date.now() - 2500_000).toISOString().replace("Z", "000Z"),
        id: someone.id,
      };

      const explain = (build: PageQuery, as = adminKeyPrincipal) =>
        withCaller(sql, as, request, async (tx) => {
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

      // Organization lists: no policy calls a function on every row (caller_reads_org and
      // its kind cost 0.2 ms a row); a row is the caller's by an index probe of their own
      // membership in its organization, never a hash of all their memberships.
      const perRowCalls = /caller_reads_org|caller_org_role|caller_has_org_permission/;
      const orgTables = ["organizations", "org_memberships", "org_invitations", "users"];
      const assertOrgPlan = (name: string, plan: PlanNode[]) => {
        for (const node of plan.filter((node) => orgTables.includes(node["Relation Name"]!))) {
          assert.notEqual(node["Node Type"], "Seq Scan", `${name}: ${JSON.stringify(plan)}`);
          assert.doesNotMatch(node.Filter ?? "", perRowCalls, `${name}: ${JSON.stringify(plan)}`);
          assert.doesNotMatch(node.Filter ?? "", /hashed/, `${name}: ${JSON.stringify(plan)}`);
          if (node["Relation Name"] === "org_memberships") {
            // A probe of the caller's membership finds it by user and organization, never by
            // reading all the caller's memberships for the one organization.
            assert.doesNotMatch(node.Filter ?? "", /org_id =/, `${name}: ${JSON.stringify(plan)}`);
          }
        }
      };
      const [midOrg] = await sql<{ id: string; at: string }[]>`
        select id, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at
        from latchkey.organizations order by created_at offset 250 limit 1`;
      const orgCursor: CursorPosition = { createdAt: midOrg.at, id: midOrg.id };
      const adminOrgCases: Record<string, Record<string, unknown>> = {
        "no filter": {},
        "q, rare": { q: "org-42" },
        "q, common": { q: "globex" },
        "suspended": { suspended: "true" },
        "active": { suspended: "false" },
        "q and suspended": { q: "globex", suspended: "true" },
        "no filter, deep cursor": { cursor: "x" },
        "q, deep cursor": { q: "globex", cursor: "x" },
      };
      for (const [name, raw] of Object.entries(adminOrgCases)) {
        const query = listOrgsQuery.parse({ ...raw, cursor: undefined });
        const at = raw.cursor ? orgCursor : null;
        assertOrgPlan(
          `GET /admin/orgs, ${name}`,
          await explain((tx) =>
            orgsPageQuery(tx, query, at, keysetOf(tx, at, query.limit), cursorColumn(tx))
          ),
        );
      }
      const orgSearch = await sql.begin(async (tx) => {
        await tx`set local enable_seqscan = off`;
        await tx`set local enable_indexscan = off`;
        const [row] = await tx<{ "QUERY PLAN": [{ Plan: PlanNode }] }[]>`
          explain (format json) select o.id from latchkey.organizations o
          where o.search_text like '%org-42%'
          order by o.created_at desc, o.id desc limit 51`;
        return row["QUERY PLAN"];
      });
      assert.ok(
        nodes(orgSearch[0].Plan).some((node) =>
          node["Index Name"] === "organizations_search_text_trgm_idx"
        ),
        JSON.stringify(orgSearch),
      );

      const [deepMember] = await sql<{ id: string; at: string }[]>`
        select id, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at
        from latchkey.org_memberships where org_id = ${orgs.big}
        order by created_at offset 250 limit 1`;
      const memberCursor: CursorPosition = { createdAt: deepMember.at, id: deepMember.id };
      const member: Principal = {
        kind: "session",
        userId: orgCaller.id,
        role: "user",
        permissions: [],
        credentialId: null,
        user: null,
        session: null,
        apiKey: null,
        rateLimit: null,
        awaitsSecondFactor: false,
      };
      const memberCases: Record<string, [PageQuery, Principal]> = {
        "GET /orgs": [
          (tx) => myOrgsPageQuery(tx, orgCaller.id, keysetOf(tx, null, 50), cursorColumn(tx)),
          member,
        ],
        "GET /orgs, deep cursor": [
          (tx) =>
            myOrgsPageQuery(tx, orgCaller.id, keysetOf(tx, memberCursor, 50), cursorColumn(tx)),
          member,
        ],
        "GET /orgs/:id/members, the big one": [
          (tx) => membersPageQuery(tx, orgs.big, keysetOf(tx, null, 50), cursorColumn(tx)),
          member,
        ],
        "GET /orgs/:id/members, deep cursor": [
          (tx) => membersPageQuery(tx, orgs.big, keysetOf(tx, memberCursor, 50), cursorColumn(tx)),
          member,
        ],
        "GET /orgs/:id/members, a small one": [
          (tx) => membersPageQuery(tx, orgs.small, keysetOf(tx, null, 50), cursorColumn(tx)),
          member,
        ],
        "GET /orgs/:id/invitations": [
          (tx) => openInvitationsQuery(tx, orgs.big, keysetOf(tx, null, 50), cursorColumn(tx)),
          member,
        ],
        "GET /admin/orgs/:id/members": [
          (tx) => membersPageQuery(tx, orgs.big, keysetOf(tx, memberCursor, 50), cursorColumn(tx)),
          adminKeyPrincipal,
        ],
      };
      for (const [name, [build, as]] of Object.entries(memberCases)) {
        const plan = await explain(build, as);
        assertOrgPlan(name, plan);
        if (name === "GET /orgs/:id/invitations") {
          assert.ok(
            plan.some((node) =>
              node["Index Name"] === "org_invitations_open_org_id_created_at_id_idx"
            ),
            `${name}: ${JSON.stringify(plan)}`,
          );
        }
      }
    } finally {
      await sql.end();
    }
  },
});
