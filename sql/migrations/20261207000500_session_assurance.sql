-- Second factors, second increment (issue 28, item 2): assurance on sessions. A session records
-- the level its sign-in reached (aal1 after a password, aal2 after a second factor) and the
-- methods used, as Supabase Auth's `amr` ([{method, timestamp}], seconds since the epoch), so
-- what later needs a level (a role, a step-up, the tokens) reads it from the session row.
-- Signing in to an account with a confirmed factor gives a challenge instead: a short-lived
-- sessions row of purpose 'mfa_challenge', good only for the factor routes that complete it.

alter table latchkey.sessions
  add column if not exists aal text not null default 'aal1' check (aal in ('aal1', 'aal2')),
  -- Every session made before this migration came from a password (sign-up or sign-in).
  add column if not exists amr jsonb not null default pg_catalog.jsonb_build_array(
    pg_catalog.jsonb_build_object('method', 'password',
      'timestamp', pg_catalog.floor(pg_catalog.date_part('epoch', pg_catalog.now()))::bigint)
  ) check (pg_catalog.jsonb_typeof(amr) = 'array'),
  add column if not exists purpose text not null default 'session'
    check (purpose in ('session', 'mfa_challenge'));
-- The live sessions' password was given when they were made, not now.
update latchkey.sessions s set amr = pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
    'method', 'password',
    'timestamp', pg_catalog.floor(pg_catalog.date_part('epoch', s.created_at))::bigint))
where s.revoked_at is null and s.expires_at > pg_catalog.now();
grant select (aal, amr, purpose) on latchkey.sessions to latchkey_caller;

-- An amr entry for a method used now.
create or replace function latchkey.amr_entry(p_method text)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object('method', p_method,
    'timestamp', pg_catalog.floor(pg_catalog.date_part('epoch', pg_catalog.now()))::bigint)
$$;
revoke all on function latchkey.amr_entry(text) from public;

-- The password was right. An account with a confirmed factor gets a challenge (expiring at
-- p_challenge_expires_at) instead of a session, and keeps its failed sign-ins: they are the
-- budget its factor codes are guessed against, which a right password must not refill.
drop function if exists latchkey.start_session(uuid, bytea, timestamptz, jsonb, text);
create or replace function latchkey.start_session(
  p_user_id uuid,
  p_token_hash bytea,
  p_expires_at timestamptz,
  p_challenge_expires_at timestamptz,
  p_request jsonb,
  p_rehashed_password text default null
)
returns table (
  id uuid, email text, name text, role text, tier text, created_at timestamptz,
  email_verified_at timestamptz, session_id uuid, session_expires_at timestamptz, aal text,
  amr jsonb, purpose text
)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_user latchkey.users;
  v_session latchkey.sessions;
  v_challenge boolean;
begin
  update latchkey.users u
  set last_sign_in_at = now(),
    password_hash = coalesce(p_rehashed_password, u.password_hash)
  where u.id = p_user_id and u.banned_at is null
  returning u.* into v_user;
  if not found then
    return;
  end if;

  v_challenge := exists (
    select 1 from latchkey.mfa_factors f
    where f.user_id = v_user.id and f.confirmed_at is not null
  );
  if not v_challenge then
    delete from latchkey.sign_in_failures where email_hash = latchkey.email_hash(v_user.email);
  end if;

  insert into latchkey.sessions (user_id, token_hash, expires_at, ip_address, user_agent,
    aal, amr, purpose)
  values (v_user.id, p_token_hash,
    case when v_challenge then p_challenge_expires_at else p_expires_at end,
    p_request ->> 'ip', p_request ->> 'userAgent', 'aal1',
    pg_catalog.jsonb_build_array(latchkey.amr_entry('password')),
    case when v_challenge then 'mfa_challenge' else 'session' end)
  returning * into v_session;

  perform latchkey.append_audit_event(
    'session', v_user.id, v_session.id,
    case when v_challenge then 'auth.sign_in_challenged' else 'auth.sign_in' end,
    'user', v_user.id, p_request
  );

  return query select v_user.id, v_user.email, v_user.name, v_user.role, v_user.tier,
    v_user.created_at, v_user.email_verified_at, v_session.id, v_session.expires_at,
    v_session.aal, v_session.amr, v_session.purpose;
end
$$;
revoke all on function latchkey.start_session(uuid, bytea, timestamptz, timestamptz, jsonb, text)
  from public;

-- Runs on every session-authenticated request: PL/pgSQL so its plan is cached per connection.
-- A challenge is found only when the route takes one (p_challenge_too).
drop function if exists latchkey.authenticate_session(bytea);
create or replace function latchkey.authenticate_session(
  p_token_hash bytea,
  p_challenge_too boolean default false
)
returns table (
  id uuid, email text, name text, role text, tier text, created_at timestamptz,
  session_id uuid, session_expires_at timestamptz, aal text, amr jsonb, purpose text
)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return query
  select u.id, u.email, u.name, u.role, u.tier, u.created_at, s.id, s.expires_at,
    s.aal, s.amr, s.purpose
  from latchkey.sessions s
  join latchkey.users u on u.id = s.user_id
  where s.token_hash = p_token_hash
    and s.revoked_at is null
    and s.expires_at > now()
    and (s.purpose = 'session' or (p_challenge_too and s.purpose = 'mfa_challenge'))
    and u.banned_at is null;
end
$$;
revoke all on function latchkey.authenticate_session(bytea, boolean) from public;

-- Completes the caller's challenge with a second factor the route has just accepted (p_method:
-- 'totp' or 'recovery_code'): the challenge is spent, and an aal2 session begins in the same
-- step, so a challenge yields one session however many requests race with it. No row when the
-- caller holds no live challenge (spent, expired, or the account banned meanwhile).
create or replace function latchkey.complete_sign_in_challenge(
  p_token_hash bytea,
  p_expires_at timestamptz,
  p_method text
)
returns table (
  id uuid, email text, name text, role text, tier text, created_at timestamptz,
  email_verified_at timestamptz, session_id uuid, session_expires_at timestamptz, aal text,
  amr jsonb
)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_amr jsonb;
  v_user latchkey.users;
  v_session latchkey.sessions;
begin
  if latchkey.current_caller() ->> 'principal_kind' is distinct from 'mfa_challenge'
    or p_method not in ('totp', 'recovery_code') then
    raise exception 'only a sign-in challenge completes itself' using errcode = '42501';
  end if;
  update latchkey.sessions s set revoked_at = pg_catalog.now()
  where s.id = latchkey.current_credential_id() and s.user_id = latchkey.current_user_id()
    and s.purpose = 'mfa_challenge' and s.revoked_at is null and s.expires_at > pg_catalog.now()
  returning s.amr into v_amr;
  if not found then
    return;
  end if;
  select * into v_user from latchkey.users u
  where u.id = latchkey.current_user_id() and u.banned_at is null;
  if not found then
    return;
  end if;
  delete from latchkey.sign_in_failures where email_hash = latchkey.email_hash(v_user.email);
  insert into latchkey.sessions (user_id, token_hash, expires_at, ip_address, user_agent,
    aal, amr, purpose)
  values (v_user.id, p_token_hash, p_expires_at,
    coalesce(nullif(pg_catalog.current_setting('latchkey.request', true), ''), '{}')::jsonb
      ->> 'ip',
    coalesce(nullif(pg_catalog.current_setting('latchkey.request', true), ''), '{}')::jsonb
      ->> 'userAgent',
    'aal2', v_amr || pg_catalog.jsonb_build_array(latchkey.amr_entry(p_method)), 'session')
  returning * into v_session;
  perform latchkey.record_audit_event('auth.sign_in', 'user', v_user.id,
    pg_catalog.jsonb_build_object('aal', 'aal2', 'method', p_method,
      'challengeId', latchkey.current_credential_id(), 'sessionId', v_session.id));
  return query select v_user.id, v_user.email, v_user.name, v_user.role, v_user.tier,
    v_user.created_at, v_user.email_verified_at, v_session.id, v_session.expires_at,
    v_session.aal, v_session.amr;
end
$$;
revoke all on function latchkey.complete_sign_in_challenge(bytea, timestamptz, text) from public;
grant execute on function latchkey.complete_sign_in_challenge(bytea, timestamptz, text)
  to latchkey_caller;

-- Raises the caller's own session to aal2 with a second factor the route has just accepted.
-- No row when the credential is not a live session of the caller's.
create or replace function latchkey.raise_session_assurance(p_method text)
returns table (session_id uuid, session_expires_at timestamptz, aal text, amr jsonb)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_session latchkey.sessions;
begin
  if latchkey.current_principal_kind() <> 'session' or p_method not in ('totp', 'recovery_code')
  then
    raise exception 'only a session raises its own assurance' using errcode = '42501';
  end if;
  update latchkey.sessions s set aal = 'aal2',
    amr = s.amr || pg_catalog.jsonb_build_array(latchkey.amr_entry(p_method))
  where s.id = latchkey.current_credential_id() and s.user_id = latchkey.current_user_id()
    and s.purpose = 'session' and s.revoked_at is null and s.expires_at > pg_catalog.now()
  returning s.* into v_session;
  if not found then
    return;
  end if;
  perform latchkey.record_audit_event('auth.session_assurance_raised', 'session', v_session.id,
    pg_catalog.jsonb_build_object('aal', 'aal2', 'method', p_method));
  return query select v_session.id, v_session.expires_at, v_session.aal, v_session.amr;
end
$$;
revoke all on function latchkey.raise_session_assurance(text) from public;
grant execute on function latchkey.raise_session_assurance(text) to latchkey_caller;
