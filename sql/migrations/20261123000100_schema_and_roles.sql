-- Schema, API roles and the helpers every policy uses to ask "who is calling".

-- Supabase has these roles already; plain PostgreSQL and PGlite get them here so the
-- policies below mean the same thing everywhere.
do $$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit;
  end if;
  -- The functions switch to `authenticated` for every route query, which needs membership.
  if not pg_catalog.pg_has_role(current_user, 'authenticated', 'member') then
    execute pg_catalog.format('grant authenticated to %I', current_user);
  end if;
end
$$;

create schema if not exists latchkey;
comment on schema latchkey is
  'Latchkey: accounts, sessions, API keys and audit. Not exposed through the Data API.';
revoke all on schema latchkey from public;
grant usage on schema latchkey to authenticated, service_role;

-- Claims follow the Supabase convention (`request.jwt.claims`), so the same policies hold
-- under PostgREST and under our functions, which set them per transaction.
create or replace function latchkey.current_claims()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select coalesce(nullif(pg_catalog.current_setting('request.jwt.claims', true), ''), '{}')::jsonb
$$;

create or replace function latchkey.current_user_id()
returns uuid
language sql
stable
set search_path = ''
as $$
  select nullif(latchkey.current_claims() ->> 'sub', '')::uuid
$$;

-- 'anonymous' when no application role is claimed: never null, so comparisons stay two-valued.
create or replace function latchkey.current_app_role()
returns text
language sql
stable
set search_path = ''
as $$
  select coalesce(nullif(latchkey.current_claims() ->> 'app_role', ''), 'anonymous')
$$;

create or replace function latchkey.caller_has_role(variadic p_roles text[])
returns boolean
language sql
stable
set search_path = ''
as $$
  select latchkey.current_app_role() = any (p_roles)
$$;

revoke all on function latchkey.current_claims() from public;
revoke all on function latchkey.current_user_id() from public;
revoke all on function latchkey.current_app_role() from public;
revoke all on function latchkey.caller_has_role(text[]) from public;
grant execute on function latchkey.current_claims() to authenticated, service_role;
grant execute on function latchkey.current_user_id() to authenticated, service_role;
grant execute on function latchkey.current_app_role() to authenticated, service_role;
grant execute on function latchkey.caller_has_role(text[]) to authenticated, service_role;
