-- Admin lists that stay fast at a million users, with RLS still the enforcer.
--
-- Under row-level security the planner evaluates the policies' condition before any filter of
-- the query that could leak the rows it looks at: a filter may run first, and so drive an
-- index, only when every function it applies to a column is leakproof. `lower(email) = ...`
-- and `ilike` are not (only a superuser may declare a function leakproof, and hosted gives us
-- none), so at 1M users the exact-email filter scanned the table although a unique index on
-- lower(email) exists (322-489 ms), and `q` scanned it with ilike (~1 s).
--
-- So the filters compare plain columns with `=` (leakproof for text, uuid and timestamptz):
-- a stored, lower-cased copy of the email, and indexes that also serve the newest-first keyset.
-- Substring search cannot be leakproof at all; it runs in `matching_user_ids` below, which
-- applies the same permission the users policy asks for and returns ids only, and the route
-- then reads those ids through the policy like any other row.

alter table latchkey.users
  add column if not exists email_lower text generated always as (lower(email)) stored;
create index if not exists users_email_lower_idx on latchkey.users (email_lower);
create index if not exists users_role_created_at_id_idx on latchkey.users (role, created_at, id);
create index if not exists users_tier_created_at_id_idx on latchkey.users (tier, created_at, id);

-- What `q` searches: email and name, lower-cased, as one text with a trigram index. pg_trgm is
-- a trusted extension (the project's postgres may create it); Supabase keeps extensions in
-- schema `extensions`, and one installed elsewhere already is used where it is.
alter table latchkey.users
  add column if not exists search_text text generated always as (lower(email || ' ' || name)) stored;
do $$
declare
  v_schema text;
begin
  if not exists (select from pg_catalog.pg_extension where extname = 'pg_trgm') then
    create schema if not exists extensions;
    create extension pg_trgm with schema extensions;
  end if;
  select n.nspname into v_schema
  from pg_catalog.pg_extension e join pg_catalog.pg_namespace n on n.oid = e.extnamespace
  where e.extname = 'pg_trgm';
  execute pg_catalog.format(
    'create index if not exists users_search_text_trgm_idx on latchkey.users '
      || 'using gin (search_text %I.gin_trgm_ops)',
    v_schema
  );
end
$$;

-- One page of the users whose email or name contains `p_text` (case-insensitively, as plain
-- text), newest first, after the cursor: ids only, and none for a caller the users policy
-- would show nobody but themselves. Built per call, so the planner sees the pattern and picks
-- the trigram index for a rare one or the newest-first walk for a common one.
create or replace function latchkey.matching_user_ids(
  p_text text,
  p_role text,
  p_tier text,
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
  if not (latchkey.caller_has_permission('users:read')
    or latchkey.caller_has_permission('users:write')) then
    return;
  end if;
  return query execute
    'select u.id from latchkey.users u
     where u.search_text like $1
       and ($2::text is null or u.role = $2)
       and ($3::text is null or u.tier = $3)
       and ($5::uuid is null or (u.created_at, u.id) < ($4, $5))
     order by u.created_at desc, u.id desc
     limit $6'
    using '%' || pg_catalog.regexp_replace(lower(p_text), '([\\%_])', '\\\1', 'g') || '%',
      p_role, p_tier, p_before_created_at, p_before_id, least(greatest(p_limit, 1), 201);
end
$$;
revoke all on function latchkey.matching_user_ids(text, text, text, timestamptz, uuid, integer)
  from public;
grant execute on function latchkey.matching_user_ids(text, text, text, timestamptz, uuid, integer)
  to latchkey_caller;

-- Audit filters with the newest-first keyset: one index each, so a page of an actor with
-- millions of events is read from the index in order instead of sorted.
create index if not exists audit_events_actor_created_at_id_idx
  on latchkey.audit_events (actor_user_id, created_at, id);
create index if not exists audit_events_target_created_at_id_idx
  on latchkey.audit_events (target_id, created_at, id);
create index if not exists audit_events_action_created_at_id_idx
  on latchkey.audit_events (action, created_at, id);
drop index if exists latchkey.audit_events_actor_user_id_idx;
drop index if exists latchkey.audit_events_target_id_idx;

-- The lists filter on the lower-cased email (search_text stays with the search function).
grant select (email_lower) on latchkey.users to latchkey_caller;
