-- Helpers a team's own policies call (issue 29, item 4): the organization and the permissions a
-- request's token carries, read from `request.jwt.claims` as PostgREST sets it, so
--
--   create policy "Members read their organization's notes" on public.notes
--     for select to authenticated using (org_id = (select latchkey.org_id()));
--   create policy "Writers add notes" on public.notes for insert to authenticated
--     with check ((select latchkey.has_permission('notes:write')));
--
-- works unchanged on tokens from `POST /auth/token` (a key's organization, or the one a session
-- named with `?org=`). They trust the claims because PostgREST verified the token's signature
-- before setting them; they read nothing else, so they cost no table access and need no grant
-- beyond execute. A token without the claim (a Supabase Auth session, a personal key) has no
-- organization and no permissions: null and false, never an error, so a policy fails closed.
-- Wrap them in `(select ...)` in policies: PostgreSQL then evaluates them once per statement.

create or replace function latchkey.org_id()
returns uuid
language sql
stable
set search_path = ''
as $$
  select case
    when claims ->> 'org_id' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
      then (claims ->> 'org_id')::uuid
  end
  from (
    select nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb as claims
  ) request
$$;
comment on function latchkey.org_id() is
  'The organization of the request''s Latchkey token (`org_id` claim), or null.';

create or replace function latchkey.org_role()
returns text
language sql
stable
set search_path = ''
as $$
  select nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb ->> 'org_role'
$$;
comment on function latchkey.org_role() is
  'The caller''s role in the token''s organization (`org_role` claim), or null.';

create or replace function latchkey.has_permission(p_permission text)
returns boolean
language sql
stable
set search_path = ''
as $$
  select coalesce(
    pg_catalog.jsonb_typeof(claims -> 'permissions') = 'array'
      and (claims -> 'permissions') ? p_permission,
    false
  )
  from (
    select nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb as claims
  ) request
$$;
comment on function latchkey.has_permission(text) is
  'Whether the request''s Latchkey token carries the permission (`permissions` claim).';

-- The Data API's roles reach these three and nothing else of ours. Until now the schema itself
-- was closed to them (20261124000100), so functions made since were left executable by PUBLIC,
-- reachable only through the schema's roles. Opening the schema to `authenticated` would open
-- those functions too: first every PUBLIC grant moves to the roles that use our functions
-- (the route role and the pruners, which had them through PUBLIC), then PUBLIC loses them, now
-- and for functions later migrations make.
do $$
declare
  v_function regprocedure;
begin
  for v_function in
    select p.oid::regprocedure
    from pg_catalog.pg_proc p
    where p.pronamespace = 'latchkey'::regnamespace
      and (p.proacl is null or exists (
        select from pg_catalog.aclexplode(p.proacl) a
        where a.grantee = 0 and a.privilege_type = 'EXECUTE'))
  loop
    execute pg_catalog.format(
      'grant execute on function %s to latchkey_caller, latchkey_audit_pruner, '
        'latchkey_challenge_pruner', v_function);
    execute pg_catalog.format('revoke execute on function %s from public', v_function);
  end loop;
end
$$;
alter default privileges in schema latchkey revoke execute on functions from public;
alter default privileges in schema latchkey grant execute on functions to latchkey_caller;

grant usage on schema latchkey to authenticated, service_role;
grant execute on function latchkey.org_id(), latchkey.org_role(), latchkey.has_permission(text)
  to authenticated, service_role;
