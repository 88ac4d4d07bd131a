-- Who has no second factor, with Supabase Auth as the identity (LATCHKEY_IDENTITY=supabase):
-- there people's factors live in Supabase Auth's auth.mfa_factors (user_id = the auth user's
-- id, which is the Latchkey user's id in that mode), so the users list, its `secondFactor`
-- filter and a user's page count the verified ones too, as `supabase:<factor_type>`.
--
-- Who reads auth.mfa_factors: hosted Supabase lets `postgres` (the role migrations run as)
-- select it, with grant option, but row level security is on there with no policy, so only a
-- role that bypasses it sees rows: `postgres` does (BYPASSRLS); a role of ours could not (only
-- a superuser may give BYPASSRLS on PostgreSQL 15, and policies on auth's tables are Supabase
-- Auth's to write). The two readers below are therefore security definers owned by the
-- migration's role, as latchkey.authenticate_supabase_user is for auth.users, and each reads
-- only user_id, factor_type, status (and created_at, id for the order): never a secret,
-- phone number or credential. Nothing is created in schema auth, and nothing depends on its
-- columns (a view would: Supabase Auth could then not alter them in a later migration).
-- Where auth.mfa_factors does not exist (plain PostgreSQL, PGlite) neither ever plans a
-- statement that names it.

-- Whether Supabase Auth's factors table is here (hosted, `supabase start`, the test cluster).
create or replace function latchkey.supabase_factors_exist()
returns boolean
language sql
stable
set search_path = ''
as $$
  select exists (
    select from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'auth' and c.relname = 'mfa_factors' and c.relkind = 'r'
  )
$$;
revoke all on function latchkey.supabase_factors_exist() from public;

-- The types of the verified Supabase Auth factors of each of `p_user_ids` that has any, oldest
-- first ('supabase:totp', 'supabase:phone', 'supabase:webauthn'): one call for a whole page, so
-- the caller's permission is looked at once, not on every row. As the factors' read policy
-- says: a caller's own, or anyone's for a reader of users; nothing of anyone else.
drop function if exists latchkey.supabase_second_factors(uuid[]);
create function latchkey.supabase_second_factors(p_user_ids uuid[])
returns table (user_id uuid, types text[])
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_self uuid := latchkey.current_user_id();
  v_anyone boolean;
begin
  if p_user_ids is null or not latchkey.supabase_factors_exist() then
    return;
  end if;
  v_anyone := latchkey.caller_has_permission('users:read');
  return query
    select f.user_id,
      pg_catalog.array_agg('supabase:' || f.factor_type::text order by f.created_at, f.id)
    from auth.mfa_factors f
    where f.user_id = any (p_user_ids) and f.status = 'verified'
      and (v_anyone or f.user_id = v_self)
    group by f.user_id;
end
$$;
revoke all on function latchkey.supabase_second_factors(uuid[]) from public;
grant execute on function latchkey.supabase_second_factors(uuid[]) to latchkey_caller;

-- The users list's ids (see 20261208000400): with `p_supabase_factors` (the Supabase identity
-- mode) a verified factor in auth.mfa_factors counts as a second factor too, as an EXISTS on
-- its user_id index inside the one statement, so pages are cut after the filter as before.
-- The route also asks it, with an empty `p_text`, for a `secondFactor` filter without a search.
-- The new argument has a default, so a call of the code before it (9 arguments) still works.
drop function if exists latchkey.matching_user_ids(
  text, text, text, boolean, boolean, boolean, timestamptz, uuid, integer
);
create or replace function latchkey.matching_user_ids(
  p_text text,
  p_role text,
  p_tier text,
  p_banned boolean,
  p_verified boolean,
  p_second_factor boolean,
  p_before_created_at timestamptz,
  p_before_id uuid,
  p_limit integer,
  p_supabase_factors boolean default false
)
returns setof uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_has_factor text := 'exists(select 1 from latchkey.mfa_factors f
         where f.user_id = u.id and f.confirmed_at is not null)';
begin
  if not (latchkey.caller_has_permission('users:read')
    or latchkey.caller_has_permission('users:write')) then
    return;
  end if;
  -- "Callers read own factors, user readers any": without users:read, nobody's factors.
  if p_second_factor is not null and not latchkey.caller_has_permission('users:read') then
    return;
  end if;
  if p_second_factor is not null and p_supabase_factors
    and latchkey.supabase_factors_exist() then
    -- One EXISTS over both tables, probed on each one's user_id index per row: an OR of two
    -- EXISTS would make PostgreSQL hash every verified factor in auth.mfa_factors per call.
    v_has_factor := 'exists(select 1 from latchkey.mfa_factors f
         where f.user_id = u.id and f.confirmed_at is not null
       union all select 1 from auth.mfa_factors a
         where a.user_id = u.id and a.status = ''verified'')';
  end if;
  return query execute
    'select u.id from latchkey.users u
     where u.search_text like $1
       and ($2::text is null or u.role = $2)
       and ($3::text is null or u.tier = $3)
       and ($4::boolean is null or (u.banned_at is not null) = $4)
       and ($5::boolean is null or (u.email_verified_at is not null) = $5)
       and ($6::boolean is null or ' || v_has_factor || ' = $6)
       and ($8::uuid is null or (u.created_at, u.id) < ($7, $8))
     order by u.created_at desc, u.id desc
     limit $9'
    using '%' || pg_catalog.regexp_replace(lower(p_text), '([\\%_])', '\\\1', 'g') || '%',
      p_role, p_tier, p_banned, p_verified, p_second_factor, p_before_created_at, p_before_id,
      least(greatest(p_limit, 1), 201);
end
$$;
revoke all on function latchkey.matching_user_ids(
  text, text, text, boolean, boolean, boolean, timestamptz, uuid, integer, boolean
) from public;
grant execute on function latchkey.matching_user_ids(
  text, text, text, boolean, boolean, boolean, timestamptz, uuid, integer, boolean
) to latchkey_caller;
