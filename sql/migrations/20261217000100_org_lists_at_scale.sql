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
-- (`(select ...)`), and per row only probe an index. The caller's own membership rows match
-- the user id the caller is a member as (latchkey.caller_member_id); an organization and its
-- invitations are the caller's when such a membership of theirs exists (an EXISTS on the
-- memberships' primary key, which reads that own row through the memberships policy); another
-- member's row, when its organization is among the caller's (latchkey.caller_org_ids, read
-- once on the memberships' user_id index and hashed: the memberships policy cannot query its
-- own table). Their meaning is the old one, row for row: caller_org_role(x) is not null exactly
-- when a membership (x, caller_member_id()) exists, which is x in caller_org_ids()
-- (tests/db/organizations_test.sql proves them equal for every caller state it uses). Whoever
-- changes who counts as a member in caller_org_role changes caller_member_id the same way.

-- The probe of the caller's own membership, by user and organization. The caller's id is an
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

-- The organizations the caller is a member of.
create or replace function latchkey.caller_org_ids()
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select m.org_id from latchkey.org_memberships m where m.user_id = latchkey.caller_member_id()
$$;
revoke all on function latchkey.caller_org_ids() from public;
grant execute on function latchkey.caller_org_ids() to latchkey_caller;

-- Staff holding orgs:read come first (one initPlan), so their lists look at nothing else.
-- `offset 0` keeps an EXISTS a probe per row: without it the planner, which cannot know how
-- many memberships the caller has, may hash them all instead (10,000 for a member of as many
-- organizations, for one row). The set-returning function is read in FROM: in the select list
-- it would hand its rows over one call at a time, several times slower.
drop policy if exists "Members read their organizations, org readers every one"
  on latchkey.organizations;
create policy "Members read their organizations, org readers every one"
  on latchkey.organizations for select to latchkey_caller
  using (
    (select latchkey.caller_has_permission('orgs:read'))
    or exists (
      select from latchkey.org_memberships m
      where m.org_id = organizations.id and m.user_id = (select latchkey.caller_member_id())
      offset 0
    )
  );
drop policy if exists "Members read their organization's members, org readers all"
  on latchkey.org_memberships;
create policy "Members read their organization's members, org readers all"
  on latchkey.org_memberships for select to latchkey_caller
  using (
    (select latchkey.caller_has_permission('orgs:read'))
    or user_id = (select latchkey.caller_member_id())
    or org_id in (select o from latchkey.caller_org_ids() o)
  );
drop policy if exists "Inviters read their organization's invitations, org readers all"
  on latchkey.org_invitations;
create policy "Inviters read their organization's invitations, org readers all"
  on latchkey.org_invitations for select to latchkey_caller
  using (
    (select latchkey.caller_has_permission('orgs:read'))
    or exists (
      select from latchkey.org_memberships m
      join latchkey.org_role_permissions rp on rp.role = m.role
      where m.org_id = org_invitations.org_id and m.user_id = (select latchkey.caller_member_id())
        and rp.permission = 'members:invite'
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
