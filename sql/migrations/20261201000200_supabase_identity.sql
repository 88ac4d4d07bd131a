-- Supabase Auth as the identity source (LATCHKEY_IDENTITY=supabase): the Latchkey user of a
-- Supabase Auth user is the row with the same id, created the first time one of its access
-- tokens is seen, and gone (keys and sessions with it) when the auth user is deleted.
-- Nothing is created in schema auth: the link is a table of ours with a foreign key into
-- auth.users, the pattern Supabase documents for profile tables.

create table if not exists latchkey.supabase_identities (
  user_id uuid primary key references latchkey.users (id) on delete cascade,
  created_at timestamptz not null default now()
);
alter table latchkey.supabase_identities enable row level security;
alter table latchkey.supabase_identities force row level security;
revoke all on latchkey.supabase_identities from public, anon, authenticated, service_role;
drop policy if exists "Latchkey's own functions manage Supabase identities"
  on latchkey.supabase_identities;
create policy "Latchkey's own functions manage Supabase identities"
  on latchkey.supabase_identities to current_user using (true) with check (true);

-- Only where Supabase Auth's table exists (hosted, `supabase start`, the test cluster); plain
-- PostgreSQL and PGlite have no auth.users and no use for the link. A database where we may
-- not reference it (hosted grants postgres every privilege on auth's tables) gets a warning
-- instead of a failed deploy: there a deleted auth user's API keys would outlive it.
do $$
begin
  if pg_catalog.to_regclass('auth.users') is null or exists (
    select from pg_catalog.pg_constraint where conname = 'supabase_identities_auth_user_fkey'
  ) then
    return;
  end if;
  if not pg_catalog.has_table_privilege('auth.users', 'references') then
    raise warning 'latchkey: no REFERENCES privilege on auth.users; with LATCHKEY_IDENTITY=supabase '
      'a deleted auth user''s API keys would not end with it';
    return;
  end if;
  alter table latchkey.supabase_identities
    add constraint supabase_identities_auth_user_fkey
    foreign key (user_id) references auth.users (id) on delete cascade;
end
$$;

-- The auth user was deleted (the cascade removed its link): the Latchkey user goes too, and
-- with it every key and session (their foreign keys cascade). Audited as the platform's act.
create or replace function latchkey.end_supabase_identity()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from latchkey.users u where u.id = old.user_id;
  if found then
    perform latchkey.append_audit_event(
      'system', null, null, 'user.deleted_with_auth_user', 'user', old.user_id, '{}'::jsonb,
      '{}'::jsonb
    );
  end if;
  return old;
end
$$;
revoke all on function latchkey.end_supabase_identity() from public;
drop trigger if exists supabase_identity_ended on latchkey.supabase_identities;
create trigger supabase_identity_ended after delete on latchkey.supabase_identities
  for each row execute function latchkey.end_supabase_identity();

-- Runs on every request with a Supabase Auth access token whose signature the function
-- verified: the auth user must still exist (a deleted user's unexpired token is refused),
-- its Latchkey user is created on first sight (racing requests create one, through the
-- primary key), and the configured bootstrap email becomes admin once, only when Supabase
-- Auth has confirmed that the address is the user's (a stranger cannot confirm it).
-- Returns no row for an unknown or deleted auth user, a banned user, or an email already
-- taken by an account of Latchkey's own.
create or replace function latchkey.authenticate_supabase_user(
  p_user_id uuid,
  p_bootstrap_email text,
  p_request jsonb
)
returns table (
  id uuid, email text, name text, role text, tier text, created_at timestamptz,
  is_anonymous boolean
)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_auth record;
  v_found integer;
  v_user latchkey.users;
begin
  -- Dynamic, so the function exists (and migrations pass) where auth.users does not.
  execute 'select u.email, u.email_confirmed_at, u.deleted_at, u.raw_user_meta_data, '
    || 'coalesce(u.is_anonymous, false) as is_anonymous from auth.users u where u.id = $1'
    into v_auth using p_user_id;
  -- EXECUTE leaves FOUND alone; the row count says whether the auth user exists.
  get diagnostics v_found = row_count;
  if v_found = 0 or v_auth.deleted_at is not null then
    return;
  end if;

  select * into v_user from latchkey.users u where u.id = p_user_id;
  if not found then
    insert into latchkey.users (id, email, name, password_hash)
    values (
      p_user_id,
      coalesce(v_auth.email, p_user_id::text || '@anonymous.supabase.invalid'),
      left(coalesce(
        nullif(v_auth.raw_user_meta_data ->> 'full_name', ''),
        nullif(v_auth.raw_user_meta_data ->> 'name', ''),
        nullif(split_part(v_auth.email, '@', 1), ''),
        'Anonymous'
      ), 200),
      null
    )
    on conflict do nothing;
    select * into v_user from latchkey.users u where u.id = p_user_id;
    if not found then
      -- The email belongs to an account of Latchkey's own: never merged silently.
      return;
    end if;
    insert into latchkey.supabase_identities (user_id) values (p_user_id) on conflict do nothing;
    if found then
      perform latchkey.append_audit_event(
        'session', p_user_id, null, 'user.created_from_supabase_auth', 'user', p_user_id,
        p_request, pg_catalog.jsonb_build_object('email', v_user.email)
      );
    end if;
  end if;

  if p_bootstrap_email is not null
    and lower(v_auth.email) = lower(p_bootstrap_email)
    and v_auth.email_confirmed_at is not null
    and not v_user.created_by_bootstrap
  then
    update latchkey.users u set role = 'admin', created_by_bootstrap = true, updated_at = now()
    where u.id = p_user_id and not u.created_by_bootstrap
    returning * into v_user;
    if found then
      perform latchkey.append_audit_event(
        'system', null, null, 'bootstrap.admin_promoted', 'user', p_user_id, p_request,
        pg_catalog.jsonb_build_object('email', v_user.email, 'confirmedAt', v_auth.email_confirmed_at)
      );
    else
      select * into v_user from latchkey.users u where u.id = p_user_id;
    end if;
  end if;

  if v_user.banned_at is not null then
    return;
  end if;
  return query select v_user.id, v_user.email, v_user.name, v_user.role, v_user.tier,
    v_user.created_at, v_auth.is_anonymous;
end
$$;
revoke all on function latchkey.authenticate_supabase_user(uuid, text, jsonb) from public;
