-- The second attacker's review (issue 25).
--
-- Throttles that hold at any concurrency (items 3, 5): a sign-in attempt is reserved, counted
-- as a failure in every budget, before its password is hashed, under locks on its client and
-- its email, and given back when the password proves right. Before, 32 wrong passwords sent
-- together from one client were all checked before any was recorded: 25 were tried against a
-- budget of 10. A reset takes its client allowance in a statement of its own, before the route
-- screens and hashes the new password.
--
-- The first proof of an address ends what was made before it (item 2): whoever held an
-- unverified account (an attacker who signed up with the victim's address, say) loses its
-- sessions, its API keys and its pending links when the owner first proves the address, by a
-- reset or by a verification link.

alter table latchkey.sign_in_failures
  add column if not exists id bigint generated always as identity;

-- A sign-in a throttle refused: audited once a minute per email, with how many there were.
-- Only a counter is written otherwise, and a lost count is cheap: that commit does not wait for
-- the WAL flush, so a flood of refusals does not queue on the disk.
create or replace function latchkey.audit_refused_sign_in(
  p_email text,
  p_user_id uuid,
  p_request jsonb
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_repeats integer := latchkey.first_in_minute(
    'auth.sign_in_throttled:' || pg_catalog.encode(latchkey.email_hash(p_email), 'hex')
  );
begin
  if v_repeats is null then
    perform pg_catalog.set_config('synchronous_commit', 'off', true);
    return;
  end if;
  perform latchkey.append_audit_event(
    'anonymous', null, null, 'auth.sign_in_failed', 'user', p_user_id, p_request,
    pg_catalog.jsonb_build_object('reason', 'throttled', 'repeatsInPreviousMinute', v_repeats)
  );
end
$$;
revoke all on function latchkey.audit_refused_sign_in(text, uuid, jsonb) from public;

-- One attempt, reserved: the same row begin_sign_in returns, and when no throttle holds, the
-- attempt's id (its failure row), already counted against the (email, client) lock-out, the
-- client's allowance and the email's ceiling. A refusal is audited here (once a minute per
-- email, with the repeats), so a flood of refused attempts costs one round trip each.
create or replace function latchkey.reserve_sign_in(
  p_email text,
  p_client text,
  p_max_failures integer,
  p_window interval,
  p_client_failures integer,
  p_email_failures integer,
  p_request jsonb
)
returns table (
  user_id uuid, password_hash text, is_banned boolean, retry_after_seconds integer,
  throttled_by text, email_verified boolean, attempt_id bigint
)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_candidate record;
  v_attempt bigint;
  v_email_hash bytea := latchkey.email_hash(p_email);
begin
  -- A throttled attempt is refused without waiting for anyone: a flood's refusals stay cheap.
  select * into v_candidate
  from latchkey.begin_sign_in(p_email, p_client, p_max_failures, p_window, p_client_failures,
    p_email_failures);
  if v_candidate.retry_after_seconds > 0 then
    perform latchkey.audit_refused_sign_in(p_email, v_candidate.user_id, p_request);
    return query select v_candidate.user_id, v_candidate.password_hash, v_candidate.is_banned,
      v_candidate.retry_after_seconds, v_candidate.throttled_by, v_candidate.email_verified,
      null::bigint;
    return;
  end if;
  -- Attempts sharing a client or an email take turns here (client first, then email, always in
  -- this order, so two attempts never wait on each other in a cycle): the check and the
  -- reservation are one step for every budget they share.
  perform pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtextextended('latchkey.sign_in_client:' || coalesce(p_client, 'unknown'), 0)
  );
  perform pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtextextended('latchkey.sign_in_email:' || lower(p_email), 0)
  );
  -- Prune this email's old failures as we go, so the table stays small without a cron job.
  delete from latchkey.sign_in_failures
  where email_hash = v_email_hash and failed_at < pg_catalog.now() - interval '1 day';

  -- Again, now that nobody sharing a budget is between its check and its reservation.
  select * into v_candidate
  from latchkey.begin_sign_in(p_email, p_client, p_max_failures, p_window, p_client_failures,
    p_email_failures);
  if v_candidate.retry_after_seconds > 0 then
    perform latchkey.audit_refused_sign_in(p_email, v_candidate.user_id, p_request);
  else
    insert into latchkey.sign_in_failures (email_hash, client_hash, failed_at)
    values (v_email_hash, latchkey.client_hash(p_client), pg_catalog.clock_timestamp())
    returning id into v_attempt;
    perform latchkey.throttle_hit('sign_in_client', p_client, p_client_failures, p_window);
    perform latchkey.throttle_hit('sign_in_email', lower(p_email), p_email_failures, p_window);
  end if;
  return query select v_candidate.user_id, v_candidate.password_hash, v_candidate.is_banned,
    v_candidate.retry_after_seconds, v_candidate.throttled_by, v_candidate.email_verified,
    v_attempt;
end
$$;
revoke all on function latchkey.reserve_sign_in(
  text, text, integer, interval, integer, integer, jsonb
) from public;

-- The right password: the reserved attempt was no failure. Its row goes and each budget gets
-- back the one step the reservation took (GCRA: the allowance moves back one interval).
create or replace function latchkey.release_sign_in(
  p_attempt_id bigint,
  p_email text,
  p_client text,
  p_window interval,
  p_client_failures integer,
  p_email_failures integer
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from latchkey.sign_in_failures where id = p_attempt_id;
  if not found then
    return;
  end if;
  update latchkey.throttles t set allowed_at = t.allowed_at - p_window / p_client_failures
  where t.bucket = 'sign_in_client'
    and t.subject_hash = pg_catalog.sha256(pg_catalog.convert_to(p_client, 'UTF8'));
  update latchkey.throttles t set allowed_at = t.allowed_at - p_window / p_email_failures
  where t.bucket = 'sign_in_email'
    and t.subject_hash = pg_catalog.sha256(pg_catalog.convert_to(lower(p_email), 'UTF8'));
end
$$;
revoke all on function latchkey.release_sign_in(bigint, text, text, interval, integer, integer)
  from public;

-- A failed sign-in, audited (its failure was counted when it was reserved).
create or replace function latchkey.audit_failed_sign_in(
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
begin
  perform latchkey.append_audit_event(
    'anonymous', null, null, 'auth.sign_in_failed', 'user', p_user_id, p_request,
    pg_catalog.jsonb_build_object('reason', p_reason)
  );
end
$$;
revoke all on function latchkey.audit_failed_sign_in(text, uuid, text, jsonb) from public;

drop function if exists latchkey.record_failed_sign_in(
  text, uuid, text, text, interval, integer, integer, jsonb
);

-- The first proof of an address (a reset or a verification link of an account not verified
-- yet): every session and API key of the account and every link still pending end. Returns
-- what ended, for the audit row.
create or replace function latchkey.end_unproven_holdings(p_user_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_sessions integer;
  v_keys integer;
begin
  update latchkey.sessions set revoked_at = pg_catalog.now()
  where sessions.user_id = p_user_id and revoked_at is null;
  get diagnostics v_sessions = row_count;
  update latchkey.api_keys set revoked_at = pg_catalog.now()
  where api_keys.user_id = p_user_id and revoked_at is null;
  get diagnostics v_keys = row_count;
  update latchkey.account_tokens set used_at = pg_catalog.now()
  where account_tokens.user_id = p_user_id and used_at is null;
  return pg_catalog.jsonb_build_object('sessionsRevoked', v_sessions, 'keysRevoked', v_keys);
end
$$;
revoke all on function latchkey.end_unproven_holdings(uuid) from public;

drop function if exists latchkey.reset_password(bytea, text, text, integer, jsonb);
-- The client's allowance is taken before this (latchkey.take_client_allowance, its own
-- statement), so a throttled client never makes the server hash.
create or replace function latchkey.reset_password(
  p_token_hash bytea,
  p_password_hash text,
  p_request jsonb,
  out user_id uuid
)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_token record;
  v_was_verified boolean;
  v_ended jsonb;
  v_revoked integer;
begin
  update latchkey.account_tokens t set used_at = pg_catalog.now()
  where t.token_hash = p_token_hash and t.purpose = 'password_reset' and t.used_at is null
    and t.expires_at > pg_catalog.now()
  returning t.user_id, t.email into v_token;
  if not found then
    return;
  end if;
  select u.email_verified_at is not null into v_was_verified
  from latchkey.users u where u.id = v_token.user_id for update;
  update latchkey.users u set
    password_hash = p_password_hash,
    updated_at = pg_catalog.now(),
    email_verified_at = case
      when u.email_verified_at is null and lower(u.email) = lower(v_token.email)
        then pg_catalog.now()
      else u.email_verified_at
    end
  where u.id = v_token.user_id and u.banned_at is null;
  if not found then
    return;
  end if;
  if v_was_verified then
    update latchkey.account_tokens set used_at = pg_catalog.now()
    where account_tokens.user_id = v_token.user_id and purpose = 'password_reset'
      and used_at is null;
    update latchkey.sessions set revoked_at = pg_catalog.now()
    where sessions.user_id = v_token.user_id and revoked_at is null;
    get diagnostics v_revoked = row_count;
    v_ended := pg_catalog.jsonb_build_object('sessionsRevoked', v_revoked);
  else
    -- Whoever held the account before the owner proved the address keeps nothing.
    v_ended := latchkey.end_unproven_holdings(v_token.user_id)
      || pg_catalog.jsonb_build_object('firstProofOfAddress', true);
  end if;
  perform latchkey.append_audit_event(
    'anonymous', null, null, 'auth.password_reset', 'user', v_token.user_id, p_request, v_ended
  );
  user_id := v_token.user_id;
end
$$;
revoke all on function latchkey.reset_password(bytea, text, jsonb) from public;

create or replace function latchkey.verify_email(
  p_token_hash bytea,
  p_client text,
  p_client_limit integer,
  p_request jsonb,
  out user_id uuid,
  out retry_after integer
)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_token record;
  v_first boolean;
  v_ended jsonb := '{}'::jsonb;
begin
  retry_after := latchkey.take_client_allowance('recovery_client', p_client, p_client_limit,
    interval '1 hour');
  if retry_after > 0 then
    return;
  end if;
  update latchkey.account_tokens t set used_at = pg_catalog.now()
  where t.token_hash = p_token_hash and t.purpose = 'email_verification' and t.used_at is null
    and t.expires_at > pg_catalog.now()
  returning t.user_id, t.email into v_token;
  if not found then
    return;
  end if;
  select u.email_verified_at is null into v_first
  from latchkey.users u
  where u.id = v_token.user_id and lower(u.email) = lower(v_token.email)
  for update;
  if not found then
    return;
  end if;
  if v_first then
    -- Sessions, keys and links made while nobody had proven the address end with the proof.
    v_ended := latchkey.end_unproven_holdings(v_token.user_id);
    update latchkey.users u set email_verified_at = pg_catalog.now()
    where u.id = v_token.user_id;
  end if;
  perform latchkey.append_audit_event(
    'anonymous', null, null, 'auth.email_verified', 'user', v_token.user_id, p_request,
    pg_catalog.jsonb_build_object('email', v_token.email) || v_ended
  );
  user_id := v_token.user_id;
end
$$;
revoke all on function latchkey.verify_email(bytea, text, integer, jsonb) from public;

-- With LATCHKEY_REQUIRE_EMAIL_VERIFICATION the route passes no token: the account is created
-- without a session (session_id and session_expires_at null) until its address is proven.
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

  if p_token_hash is not null then
    insert into latchkey.sessions (user_id, token_hash, expires_at, ip_address, user_agent)
    values (v_user.id, p_token_hash, p_expires_at, p_request ->> 'ip', p_request ->> 'userAgent')
    returning * into v_session;
  end if;

  perform latchkey.append_audit_event(
    case when v_session.id is null then 'anonymous' else 'session' end,
    case when v_session.id is null then null else v_user.id end, v_session.id,
    'auth.sign_up', 'user', v_user.id, p_request
  );

  return query select v_user.id, v_user.email, v_user.name, v_user.role, v_user.tier,
    v_user.created_at, v_session.id, v_session.expires_at;
end
$$;
revoke all on function latchkey.sign_up(text, text, text, bytea, timestamptz, jsonb) from public;
