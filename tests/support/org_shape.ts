import type postgres from "postgres";

/**
 * Organizations, memberships and invitations shaped like a real deployment's, in a few
 * set-based statements: for `deno task bench:scale` at 100,000 organizations and 1,000,000
 * memberships, and for the list plans test at a few thousand.
 */
export interface OrgShape {
  /** Users already in the database: each joins one organization (or none). */
  users: number;
  orgs: number;
  memberships: number;
}

/** The benchmark's own account joins this many organizations (after sign-up, in probesFor). */
export function callerOrgs(size: OrgShape) {
  return Math.min(10_000, size.orgs / 10);
}

/**
 * Organizations shaped like a real deployment's: organization 1 (the newest) has a tenth of the
 * memberships (100,000 at the default size), and so a long invitation history; every other has
 * an owner and a skewed share of the rest (u³ over the organizations: at 100,000 of them, 15
 * with over a thousand members, the largest 17,021, and half with five or fewer); one in 499 is
 * suspended, of every name. Each range of users joins in one role only, so no (organization,
 * user) pair repeats: the big organization's members are users 1..big, the owners the next
 * orgs - 1, the members after.
 * The benchmark's account adds callerOrgs more (joinOrgs), making `size.memberships` in all.
 */
export async function loadOrgs(sql: postgres.Sql, size: OrgShape) {
  const big = size.memberships / 10;
  const rest = size.memberships - big - (size.orgs - 1) - callerOrgs(size);
  if (big + (size.orgs - 1) + rest > size.users) {
    throw new Error("--memberships needs at least as many --users (each joins one organization)");
  }
  await sql.unsafe(`
    set synchronous_commit = off;
    create temporary table numbered_users as
      select id, row_number() over (order by created_at desc) as n from latchkey.users;
    create unique index on numbered_users (n);
    insert into latchkey.organizations (name, slug, created_at, updated_at, suspended_at,
      suspension_reason)
    select (array['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark', 'Wayne',
        'Tyrell'])[g % 8 + 1] || ' ' || g,
      'org-' || g, now() - g * interval '10 seconds', now() - g * interval '10 seconds',
      case when g % 499 = 7 then now() - interval '1 day' end,
      case when g % 499 = 7 then 'unpaid' end
    from generate_series(1, ${size.orgs}) g;
    create temporary table numbered_orgs as
      select id, created_at, row_number() over (order by created_at desc) as n
      from latchkey.organizations;
    create unique index on numbered_orgs (n);
    insert into latchkey.org_memberships (org_id, user_id, role, created_at, updated_at)
    select o.id, u.id,
      case when g = 1 then 'owner' when g % 1000 = 0 then 'admin' else 'member' end,
      o.created_at + g * interval '1 second', o.created_at + g * interval '1 second'
    from generate_series(1, ${big}) g
    join numbered_users u on u.n = g
    join numbered_orgs o on o.n = 1;
    insert into latchkey.org_memberships (org_id, user_id, role, created_at, updated_at)
    select o.id, u.id, 'owner', o.created_at, o.created_at
    from numbered_orgs o
    join numbered_users u on u.n = ${big} + o.n - 1
    where o.n > 1;
    insert into latchkey.org_memberships (org_id, user_id, role, created_at, updated_at)
    select o.id, u.id, case when g % 20 = 0 then 'admin' else 'member' end,
      o.created_at + (1 + g % 864000) * interval '1 second',
      o.created_at + (1 + g % 864000) * interval '1 second'
    from generate_series(1, ${rest}) g
    join numbered_users u on u.n = ${big + size.orgs - 1} + g
    join numbered_orgs o on o.n = 2 + least(${size.orgs - 2},
      floor(${size.orgs - 1} * power((g::bigint * 7919 % 1000003) / 1000003.0, 3))::int);
    -- The big organization's invitations: each member came by one (accepted), a few were
    -- revoked or expired, and one in 50 is still open, all interleaved in time.
    insert into latchkey.org_invitations (org_id, email, role, token_hash, created_at,
      expires_at, accepted_at, revoked_at)
    select o.id, 'invitee' || g || '@scale.example', 'member',
      sha256(convert_to('scale-invitation-' || g, 'UTF8')),
      now() - g * interval '1 minute',
      case when g % 50 = 3 then now() + interval '7 days' else now() - g * interval '1 minute'
        + interval '7 days' end,
      case when g % 50 not in (3, 4, 5) then now() - g * interval '1 minute' end,
      case when g % 50 = 4 then now() - g * interval '1 minute' end
    from generate_series(1, ${big}) g
    join numbered_orgs o on o.n = 1;
    analyze latchkey.organizations;
    analyze latchkey.org_memberships;
    analyze latchkey.org_invitations;`);
}

/**
 * The benchmark's account in callerOrgs organizations (one in nine, spread over the ages), an
 * admin of the big one (members:invite, to list its invitations), a member of the oldest, a
 * small one. Answers the two organizations' ids.
 */
export async function joinOrgs(sql: postgres.Sql, userId: string, size: OrgShape) {
  const count = callerOrgs(size);
  await sql`
    insert into latchkey.org_memberships (org_id, user_id, role, created_at, updated_at)
    select o.id, ${userId}, case when o.n = 1 then 'admin' else 'member' end,
      now() - o.n * interval '1 second', now() - o.n * interval '1 second'
    from (
      select id, row_number() over (order by created_at desc) as n from latchkey.organizations
    ) o
    where o.n in (1, ${size.orgs}) or (o.n % 9 = 2 and o.n <= 9 * ${count - 2})`;
  await sql`analyze latchkey.org_memberships`;
  const [ids] = await sql<{ big: string; small: string }[]>`
    select (select id from latchkey.organizations order by created_at desc limit 1) as big,
      (select id from latchkey.organizations order by created_at limit 1) as small`;
  return ids;
}
