-- Security-definer functions for the credential checks that must run before a caller is
-- known. Each is narrow, schema-qualified, and executable only by the schema owner (the
-- functions' database login); none is granted to an API role.

create or replace function latchkey.email_hash(p_email text)
returns bytea
language sql
immutable
set search_path = ''
as $$
  select pg_catalog.sha256(pg_catalog.convert_to(lower(p_email), 'UTF8'))
$$;
revoke all on function latchkey.email_hash(text) from public;

create or replace function latchkey.sign_up(
  p_email text,
  p_name text,
  p_password_hash text,
  p_token_hash bytea,
  p_expires_at timestamptz,
  p_request jsonb
)
returns table (
  id uuid, email text, name text, role text, tier text, created_at timestamptz,
  session_id uuid, session_expires_at timestamptz
)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_user latchkey.users;
  v_session latchkey.sessions;
begin
  -- A concurrent sign-up with the same email fails here on users_email_lower_key.
  insert into latchkey.users (email, name, password_hash)
  values (p_email, p_name, p_password_hash)
  returning * into v_user;

  insert into latchkey.sessions (user_id, token_hash, expires_at, ip_address, user_agent)
  values (v_user.id, p_token_hash, p_expires_at, p_request ->> 'ip', p_request ->> 'userAgent')
  returning * into v_session;

  perform latchkey.append_audit_event(
    'session', v_user.id, v_session.id, 'auth.sign_up', 'user', v_user.id, p_request
  );

  return query select v_user.id, v_user.email, v_user.name, v_user.role, v_user.tier,
    v_user.created_at, v_session.id, v_session.expires_at;
end
$$;
revoke all on function latchkey.sign_up(text, text, text, bytea, timestamptz, jsonb) from public;

-- Always returns one row, known email or not, so the caller's work (and timing) is the same.
-- retry_after_seconds > 0 means the email is throttled: it is the time until the oldest
-- failure that keeps the count at the limit leaves the window.
create or replace function latchkey.begin_sign_in(
  p_email text,
  p_max_failures integer,
  p_window interval
)
returns table (
  user_id uuid, password_hash text, is_banned boolean, retry_after_seconds integer
)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return query
  select u.id, u.password_hash, u.banned_at is not null,
    case
      when limiting.failed_at is null then 0
      else greatest(1, ceil(extract(epoch from (limiting.failed_at + p_window - now()))))::integer
    end
  from (select) as one_row
  left join latchkey.users u on lower(u.email) = lower(p_email)
  left join lateral (
    select f.failed_at
    from latchkey.sign_in_failures f
    where f.email_hash = latchkey.email_hash(p_email) and f.failed_at > now() - p_window
    order by f.failed_at desc
    offset greatest(p_max_failures - 1, 0)
    limit 1
  ) limiting on true;
end
$$;
revoke all on function latchkey.begin_sign_in(text, integer, interval) from public;

create or replace function latchkey.record_failed_sign_in(
  p_email text,
  p_user_id uuid,
  p_reason text,
  p_request jsonb
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_email_hash bytea := latchkey.email_hash(p_email);
begin
  -- Prune this email's old failures as we go, so the table stays small without a cron job.
  delete from latchkey.sign_in_failures
  where email_hash = v_email_hash and failed_at < now() - interval '1 day';

  if p_reason <> 'throttled' then
    insert into latchkey.sign_in_failures (email_hash) values (v_email_hash);
  end if;

  perform latchkey.append_audit_event(
    'anonymous', null, null, 'auth.sign_in_failed', 'user', p_user_id, p_request,
    pg_catalog.jsonb_build_object('reason', p_reason)
  );
end
$$;
revoke all on function latchkey.record_failed_sign_in(text, uuid, text, jsonb) from public;

-- Opens a session for a user whose password was just verified. Returns no row when the
-- user was deleted or banned in between. `p_rehashed_password` upgrades the stored hash when
-- the hashing parameters changed since it was made.
create or replace function latchkey.start_session(
  p_user_id uuid,
  p_token_hash bytea,
  p_expires_at timestamptz,
  p_request jsonb,
  p_rehashed_password text default null
)
returns table (
  id uuid, email text, name text, role text, tier text, created_at timestamptz,
  session_id uuid, session_expires_at timestamptz
)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_user latchkey.users;
  v_session latchkey.sessions;
begin
  update latchkey.users u
  set last_sign_in_at = now(),
    password_hash = coalesce(p_rehashed_password, u.password_hash)
  where u.id = p_user_id and u.banned_at is null
  returning u.* into v_user;
  if not found then
    return;
  end if;

  delete from latchkey.sign_in_failures where email_hash = latchkey.email_hash(v_user.email);

  insert into latchkey.sessions (user_id, token_hash, expires_at, ip_address, user_agent)
  values (v_user.id, p_token_hash, p_expires_at, p_request ->> 'ip', p_request ->> 'userAgent')
  returning * into v_session;

  perform latchkey.append_audit_event(
    'session', v_user.id, v_session.id, 'auth.sign_in', 'user', v_user.id, p_request
  );

  return query select v_user.id, v_user.email, v_user.name, v_user.role, v_user.tier,
    v_user.created_at, v_session.id, v_session.expires_at;
end
$$;
revoke all on function latchkey.start_session(uuid, bytea, timestamptz, jsonb, text) from public;

-- Runs on every session-authenticated request: PL/pgSQL so its plan is cached per connection.
create or replace function latchkey.authenticate_session(p_token_hash bytea)
returns table (
  id uuid, email text, name text, role text, tier text, created_at timestamptz,
  session_id uuid, session_expires_at timestamptz
)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return query
  select u.id, u.email, u.name, u.role, u.tier, u.created_at, s.id, s.expires_at
  from latchkey.sessions s
  join latchkey.users u on u.id = s.user_id
  where s.token_hash = p_token_hash
    and s.revoked_at is null
    and s.expires_at > now()
    and u.banned_at is null;
end
$$;
revoke all on function latchkey.authenticate_session(bytea) from public;

create or replace function latchkey.password_hash_of(p_user_id uuid)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select u.password_hash from latchkey.users u where u.id = p_user_id
$$;
revoke all on function latchkey.password_hash_of(uuid) from public;

-- Sets a new password and revokes every other session of the user; returns how many.
create or replace function latchkey.change_password(
  p_user_id uuid,
  p_current_session_id uuid,
  p_new_password_hash text,
  p_request jsonb
)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_revoked integer;
begin
  update latchkey.users set password_hash = p_new_password_hash, updated_at = now()
  where id = p_user_id;

  update latchkey.sessions set revoked_at = now()
  where user_id = p_user_id and id <> p_current_session_id
    and revoked_at is null and expires_at > now();
  get diagnostics v_revoked = row_count;

  perform latchkey.append_audit_event(
    'session', p_user_id, p_current_session_id, 'auth.password_changed', 'user', p_user_id,
    p_request, pg_catalog.jsonb_build_object('revokedSessions', v_revoked)
  );
  return v_revoked;
end
$$;
revoke all on function latchkey.change_password(uuid, uuid, text, jsonb) from public;
