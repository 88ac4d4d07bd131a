-- Organization and member lists that stay fast at 100,000 organizations and 1,000,000
-- memberships (issue 29, item 5), with RLS still the enforcer.
--
-- The read policies called latchkey.caller_reads_org(org_id) on every row. It is three layers
-- of functions, each with its own search_path (so none is inlined) and each parsing the
-- caller's state again: about 0.2 ms a row. A page of 50 members cost 20 ms in the policy
-- alone; a member count of the big organization, or a search walking the organizations, cost
-- 0.2 ms for every row it looked at (a second and more at 100,000 organizations).
--
-- So the policies ask what depends on the caller alone once per statement, as an initPlan
-- (`(select ...)`), and per row probe one index: is there a membership of the caller's in the
-- row's organization (and, for invitations, does its role hold members:invite)? The caller's
-- memberships are read through the view latchkey.caller_memberships, whose rows are read as
-- its owner: a policy of org_memberships cannot query org_memberships as the caller (its own
-- policy again, infinite recursion), and a function per row is what cost 0.2 ms. Their meaning
-- is the old one, row for row: caller_org_role(x) is the role of the membership (x,
-- caller_member_id()), which is caller_memberships' row for x (tests/db/organizations_test.sql
-- proves them equal, and what each policy shows, for every caller state it uses). Whoever
-- changes who counts as a member in caller_org_role changes caller_member_id the same way.

-- The probe of the caller's membership, by user and organization. The caller's id is an
-- initPlan's, unknown when the plan is made, so the planner takes any user's memberships for
-- one row: on the primary key (organization first) or on the user's newest-first index, with
-- the organization as a filter, it judged the two alike and took either; the latter reads all
-- of a member of 10,000 organizations' memberships for every row (4 ms each). With this index
-- every path that starts with the user has the organization in its index condition too.
create unique index if not exists org_memberships_user_id_org_id_key
  on latchkey.org_memberships (user_id, org_id);

-- The user id the caller acts as a member with: a session's, nobody's for an API key or the
-- admin key, nor for a session that still owes its role's second factor (as caller_org_role).
create or replace function latchkey.caller_member_id()
returns uuid
language sql
stable
set search_path = ''
as $$
  select latchkey.current_user_id()
  where latchkey.current_principal_kind() = 'session'
    and not latchkey.caller_awaits_second_factor()
$$;
revoke all on function latchkey.caller_member_id() from public;
grant execute on function latchkey.caller_member_id() to latchkey_caller;

-- The caller's own memberships (organization and role), for the policies. A view reads its
-- tables as its owner, so no policy of org_memberships applies inside it; it shows nobody
-- anything but their own memberships, which the memberships policy shows them anyway.
create or replace view latchkey.caller_memberships as
  select m.org_id, m.role from latchkey.org_memberships m
  where m.user_id = (select latchkey.caller_member_id());
revoke all on latchkey.caller_memberships
  from public, anon, authenticated, service_role, latchkey_caller;
grant select on latchkey.caller_memberships to latchkey_caller;

-- Staff holding orgs:read come first (one initPlan), so their lists look at nothing else.
-- `offset 0` keeps each EXISTS a probe per row: without it the planner, which cannot know how
-- many memberships the caller has, may hash them all instead (10,000 for a member of as many
-- organizations, for one row).
drop policy if exists "Members read their organizations, org readers every one"
  on latchkey.organizations;
create policy "Members read their organizations, org readers every one"
  on latchkey.organizations for select to latchkey_caller
  using (
    (select latchkey.caller_has_permission('orgs:read'))
    or exists (
      select from latchkey.caller_memberships mine where mine.org_id = organizations.id
      offset 0
    )
  );
drop policy if exists "Members read their organization's members, org readers all"
  on latchkey.org_memberships;
create policy "Members read their organization's members, org readers all"
  on latchkey.org_memberships for select to latchkey_caller
  using (
    (select latchkey.caller_has_permission('orgs:read'))
    or exists (
      select from latchkey.caller_memberships mine where mine.org_id = org_memberships.org_id
      offset 0
    )
  );
drop policy if exists "Inviters read their organization's invitations, org readers all"
  on latchkey.org_invitations;
create policy "Inviters read their organization's invitations, org readers all"
  on latchkey.org_invitations for select to latchkey_caller
  using (
    (select latchkey.caller_has_permission('orgs:read'))
    or exists (
      select from latchkey.caller_memberships mine
      join latchkey.org_role_permissions rp on rp.role = mine.role
      where mine.org_id = org_invitations.org_id and rp.permission = 'members:invite'
      offset 0
    )
  );

-- The open invitations of an organization, newest first, without walking its history of
-- accepted and revoked ones.
create index if not exists org_invitations_open_org_id_created_at_id_idx
  on latchkey.org_invitations (org_id, created_at, id)
  where accepted_at is null and revoked_at is null;

-- A page of members' names and addresses in one call (org_member_profile was one call a row,
-- each planning the functions it calls again): to whoever may read the organization, for the
-- given members of it only. Each id's membership is a scalar subquery, one primary-key probe:
-- a SQL function's plan is generic, and as a join its guess of an organization's size (a few
-- dozen members) made it read the whole organization to match 50 ids.
create or replace function latchkey.org_member_profiles(p_org_id uuid, p_user_ids uuid[])
returns table (user_id uuid, name text, email text)
language sql
stable
security definer
set search_path = ''
as $$
  select u.id, u.name, u.email
  from latchkey.users u
  where u.id = any (p_user_ids)
    and latchkey.caller_reads_org(p_org_id)
    and (select true from latchkey.org_memberships m
      where m.org_id = p_org_id and m.user_id = u.id)
$$;
revoke all on function latchkey.org_member_profiles(uuid, uuid[]) from public;
grant execute on function latchkey.org_member_profiles(uuid, uuid[]) to latchkey_caller;
drop function if exists latchkey.org_member_profile(uuid, uuid);

-- `q` on the staff's organization list: a substring of the name or slug. As with the users
-- list (20261201000300), no substring operator is leakproof, so under RLS it cannot drive an
-- index and ran after the policy on every organization it walked past; the page's ids come
-- from this function instead, which searches with a trigram index (pg_trgm, found where it is
-- installed) and answers only a caller the organizations policy lets read every one. The route
-- then reads those ids through the policy. Built per call, so the planner sees the pattern and
-- the filter: the trigram index for a rare pattern, the newest-first walk for a common one, the
-- suspended organizations' own index when only those are asked for.
do $$
declare
  v_schema text;
begin
  select n.nspname into v_schema
  from pg_catalog.pg_extension e join pg_catalog.pg_namespace n on n.oid = e.extnamespace
  where e.extname = 'pg_trgm';
  execute pg_catalog.format(
    'create index if not exists organizations_search_text_trgm_idx on latchkey.organizations '
      || 'using gin (search_text %I.gin_trgm_ops)',
    v_schema
  );
end
$$;

create or replace function latchkey.matching_org_ids(
  p_text text,
  p_suspended boolean,
  p_before_created_at timestamptz,
  p_before_id uuid,
  p_limit integer
)
returns setof uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if not latchkey.caller_has_permission('orgs:read') then
    return;
  end if;
  return query execute
    'select o.id from latchkey.organizations o
     where o.search_text like $1'
    || case p_suspended
      when true then ' and o.suspended_at is not null'
      when false then ' and o.suspended_at is null'
      else ''
    end
    || case when p_before_id is not null then ' and (o.created_at, o.id) < ($2, $3)' else '' end
    || ' order by o.created_at desc, o.id desc limit $4'
    using '%' || pg_catalog.regexp_replace(lower(p_text), '([\\%_])', '\\\1', 'g') || '%',
      p_before_created_at, p_before_id, least(greatest(p_limit, 1), 201);
end
$$;
revoke all on function latchkey.matching_org_ids(text, boolean, timestamptz, uuid, integer)
  from public;
grant execute on function latchkey.matching_org_ids(text, boolean, timestamptz, uuid, integer)
  to latchkey_caller;
