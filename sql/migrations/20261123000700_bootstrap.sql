-- Zero-touch bootstrap: the first admin from configuration, explicit promotion, and admin
-- keys for automation. All run as the schema owner (the seed, tasks, or psql), never as an
-- API role, and all are audited as actor `system`.

-- Marks the account the bootstrap created, so later runs know it is theirs to leave alone and
-- a self-registered account with the same email is never taken over silently.
alter table latchkey.users add column if not exists created_by_bootstrap boolean not null default false;

-- Creates the configured first admin, idempotently and race-safely. Returns what it did:
-- 'created', 'unchanged', 'promoted' or 'skipped' (no email configured). Refuses (raises) when
-- the email belongs to a self-registered account, unless p_promote_existing.
create or replace function latchkey.bootstrap_admin(
  p_email text,
  p_password_hash text,
  p_promote_existing boolean default false
)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user latchkey.users;
begin
  if p_email is null or p_email = '' then
    return 'skipped';
  end if;
  -- One bootstrap at a time: two deploys racing each other create one admin.
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('latchkey.bootstrap_admin'));

  select * into v_user from latchkey.users u where lower(u.email) = lower(p_email);
  if not found then
    if p_password_hash is null or p_password_hash !~ '^\$argon2id\$' then
      raise exception 'the bootstrap admin needs a password (an argon2id PHC string)'
        using errcode = 'invalid_parameter_value';
    end if;
    insert into latchkey.users (email, name, password_hash, role, created_by_bootstrap)
    values (p_email, 'Bootstrap admin', p_password_hash, 'admin', true)
    returning * into v_user;
    perform latchkey.append_audit_event(
      'system', null, null, 'bootstrap.admin_created', 'user', v_user.id, '{}'::jsonb,
      pg_catalog.jsonb_build_object('email', v_user.email)
    );
    return 'created';
  end if;

  if v_user.created_by_bootstrap or (v_user.role = 'admin' and v_user.banned_at is null) then
    -- Ours from an earlier run, or already an admin: later changes (a new password, even a
    -- demotion by another admin) are respected, not undone on every deploy.
    return 'unchanged';
  end if;

  if not p_promote_existing then
    raise exception 'refusing to make % an admin: the account was not created by the bootstrap',
      v_user.email
      using errcode = 'P0001', hint = 'bootstrap_refused',
        detail = 'Someone signed up with this email. If that was you, run the seed with '
          || '--promote-existing; otherwise configure another LATCHKEY_BOOTSTRAP_ADMIN_EMAIL.';
  end if;
  return latchkey.promote_user(v_user.email, 'admin');
end
$$;
revoke all on function latchkey.bootstrap_admin(text, text, boolean) from public;

-- For people who live in psql: `select latchkey.promote_user('ada@example.com', 'admin')`.
-- Audited, and the user's sessions are revoked so the new role is picked up cleanly.
create or replace function latchkey.promote_user(p_email text, p_role text default 'admin')
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user latchkey.users;
  v_revoked integer;
begin
  if p_role not in ('user', 'support', 'admin') then
    raise exception 'unknown role %: use user, support or admin', p_role
      using errcode = 'invalid_parameter_value';
  end if;
  select * into v_user from latchkey.users u where lower(u.email) = lower(p_email) for update;
  if not found then
    raise exception 'no user with email %', p_email using errcode = 'no_data_found';
  end if;
  update latchkey.users set role = p_role, updated_at = now() where id = v_user.id;
  update latchkey.sessions set revoked_at = now()
  where user_id = v_user.id and revoked_at is null and expires_at > now();
  get diagnostics v_revoked = row_count;
  perform latchkey.append_audit_event(
    'system', null, null, 'bootstrap.user_promoted', 'user', v_user.id, '{}'::jsonb,
    pg_catalog.jsonb_build_object(
      'before', pg_catalog.jsonb_build_object('role', v_user.role),
      'after', pg_catalog.jsonb_build_object('role', p_role),
      'revokedSessions', v_revoked
    )
  );
  return 'promoted';
end
$$;
revoke all on function latchkey.promote_user(text, text) from public;

-- For automation without an admin key configured: finds or creates the service account
-- `<p_name>` and gives it a new admin-scoped key (hash and prefix made by the caller; the
-- secret never reaches the database). Returns the key's id.
create or replace function latchkey.bootstrap_service_key(
  p_name text,
  p_key_prefix text,
  p_key_hash bytea
)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_email text := lower(p_name) || '@service-accounts.latchkey.invalid';
  v_user latchkey.users;
  v_key_id uuid;
begin
  if p_name !~ '^[a-z0-9][a-z0-9_-]{0,62}$' then
    raise exception 'service account names are lowercase letters, digits, - and _'
      using errcode = 'invalid_parameter_value';
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('latchkey.bootstrap_service'));
  select * into v_user from latchkey.users u where lower(u.email) = v_email;
  if not found then
    insert into latchkey.users (email, name, role, is_service_account, created_by_bootstrap)
    values (v_email, p_name, 'admin', true, true)
    returning * into v_user;
    perform latchkey.append_audit_event(
      'system', null, null, 'bootstrap.service_account_created', 'user', v_user.id,
      '{}'::jsonb, pg_catalog.jsonb_build_object('name', p_name)
    );
  elsif not v_user.is_service_account then
    raise exception '% belongs to a person, not a service account', v_email
      using errcode = 'P0001';
  end if;

  insert into latchkey.api_keys (
    user_id, name, key_prefix, key_hash, scopes, key_type, rate_limit_per_minute, created_by
  )
  values (
    v_user.id, 'bootstrap ' || p_name, p_key_prefix, p_key_hash,
    array(select permission from latchkey.role_permissions where role = 'admin' order by 1),
    'integration', 600, null
  )
  returning id into v_key_id;
  perform latchkey.append_audit_event(
    'system', null, null, 'bootstrap.service_key_created', 'api_key', v_key_id, '{}'::jsonb,
    pg_catalog.jsonb_build_object('serviceAccount', p_name, 'keyPrefix', p_key_prefix)
  );
  return v_key_id;
end
$$;
revoke all on function latchkey.bootstrap_service_key(text, text, bytea) from public;
