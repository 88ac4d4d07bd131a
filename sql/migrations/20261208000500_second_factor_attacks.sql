-- Second factors against an attacker (issue 28, item 7): two findings of its tests.
--
-- 1. Concurrent completions of one sign-in challenge each spent a code. The code was spent
--    (accept_totp_code, spend_recovery_code) in one statement and the challenge in the next
--    (complete_sign_in_challenge), so five requests racing with one challenge and five recovery
--    codes gave one session and spent four codes (a double-click spends two; a thief racing the
--    owner burns the owner's codes). Now a code is spent on a challenge only together with
--    claiming it: the challenge row is locked first, and a claimed or spent one spends nothing
--    ('challenge_gone'); complete_sign_in_challenge takes only a challenge a code has claimed.
--    The claim is the second factor's entry in the challenge's amr, which the session inherits.
--
-- 2. Wrong TOTP codes were held only by the sign-in budgets, made for passwords: 100 failures
--    per 15 minutes at one account from all clients (GCRA) let 9,700 guesses a day through, and
--    with three codes right at any moment (±1 step) 1 - (1 - 3e-6)^9700 ≈ 2.9 % of accounts
--    whose password was known fell in a day (from one client, the (account, client) lock-out's
--    10 per 15 minutes: 0.29 %). A budget of the account's own for wrong TOTP codes,
--    LATCHKEY_TOTP_FAILURES_PER_DAY (GCRA over a day: at most twice it in any 24 hours), holds a
--    day at 10 guesses, 3.0e-5, with the default of 5. Recovery codes (79 bits) stay under the
--    sign-in budgets only, so an attacker spending this budget does not lock the owner out.

-- With a sign-in's challenge as the caller: locks the challenge and says whether a code may be
-- spent on it (live, and not claimed by a code already). Meant for the functions that spend
-- codes, inside their statement, so the lock lasts until their spend is committed.
create or replace function latchkey.lock_open_challenge()
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform 1 from latchkey.sessions s
  where s.id = latchkey.current_credential_id() and s.user_id = latchkey.current_user_id()
    and s.purpose = 'mfa_challenge' and s.revoked_at is null and s.expires_at > pg_catalog.now()
    and not pg_catalog.jsonb_path_exists(s.amr, '$[*] ? (@.method != "password")')
  for update;
  return found;
end
$$;
revoke all on function latchkey.lock_open_challenge() from public;

-- Claims the caller's challenge (locked by lock_open_challenge in the same statement) for the
-- code just spent on it.
create or replace function latchkey.claim_challenge(p_method text)
returns void
language sql
security definer
set search_path = ''
as $$
  update latchkey.sessions s set amr = s.amr || pg_catalog.jsonb_build_array(
    latchkey.amr_entry(p_method))
  where s.id = latchkey.current_credential_id() and s.user_id = latchkey.current_user_id()
    and s.purpose = 'mfa_challenge'
$$;
revoke all on function latchkey.claim_challenge(text) from public;

-- Records a code the route found right for time step p_step, atomically against replays: the
-- step must be newer than the last accepted one. Outcomes: 'replayed'; 'confirmed' (its first
-- success: when the caller holds no unused recovery codes, p_recovery_code_hashes become theirs
-- and recovery_codes_issued is true); 'verified'; 'not_found'; with a sign-in's challenge as the
-- caller (a confirmed factor only), 'challenge_gone' when another code has claimed it or it is
-- spent: then nothing is taken, and a taken code claims the challenge.
create or replace function latchkey.accept_totp_code(
  p_id uuid,
  p_step bigint,
  p_recovery_code_hashes bytea[]
)
returns table (outcome text, recovery_codes_issued boolean)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user_id uuid := latchkey.current_user_id();
  v_challenge boolean := coalesce(
    latchkey.current_caller() ->> 'principal_kind' = 'mfa_challenge', false);
  v_was_confirmed boolean;
  v_issued boolean := false;
begin
  if v_challenge and not latchkey.lock_open_challenge() then
    return query select 'challenge_gone'::text, false;
    return;
  end if;
  select f.confirmed_at is not null into v_was_confirmed
  from latchkey.mfa_factors f
  where f.id = p_id and f.user_id = v_user_id and f.type = 'totp'
    and (f.confirmed_at is not null or not v_challenge)
  for update;
  if not found then
    return query select 'not_found'::text, false;
    return;
  end if;
  update latchkey.mfa_factors f set
    last_used_step = p_step,
    last_used_at = pg_catalog.now(),
    confirmed_at = coalesce(f.confirmed_at, pg_catalog.now())
  where f.id = p_id and (f.last_used_step is null or f.last_used_step < p_step);
  if not found then
    perform latchkey.record_audit_event('auth.factor_verify_failed', 'factor', p_id,
      pg_catalog.jsonb_build_object('reason', 'replayed'));
    return query select 'replayed'::text, false;
    return;
  end if;
  if v_challenge then
    perform latchkey.claim_challenge('totp');
  end if;
  if not v_was_confirmed and not exists (
    select 1 from latchkey.mfa_recovery_codes c where c.user_id = v_user_id and c.used_at is null
  ) then
    delete from latchkey.mfa_recovery_codes c where c.user_id = v_user_id;
    insert into latchkey.mfa_recovery_codes (code_hash, user_id)
    select h, v_user_id from pg_catalog.unnest(p_recovery_code_hashes) h;
    v_issued := true;
  end if;
  perform latchkey.record_audit_event(
    case when v_was_confirmed then 'auth.factor_verified' else 'auth.factor_confirmed' end,
    'factor', p_id, pg_catalog.jsonb_build_object('recoveryCodesIssued', v_issued));
  return query select
    case when v_was_confirmed then 'verified' else 'confirmed' end, v_issued;
end
$$;
revoke all on function latchkey.accept_totp_code(uuid, bigint, bytea[]) from public;
grant execute on function latchkey.accept_totp_code(uuid, bigint, bytea[]) to latchkey_caller;

-- Spends one of the caller's unused recovery codes: 'spent', or 'not_found' when it was none;
-- with a sign-in's challenge as the caller, 'challenge_gone' (nothing spent, the code not even
-- looked at) when another code has claimed it or it is spent, and a spent code claims it.
-- A new name, since its answer changes type (boolean before): an earlier migration run again
-- then recreates the old one beside it, and this drops it once more.
drop function if exists latchkey.spend_recovery_code(bytea);
create or replace function latchkey.use_recovery_code(p_code_hash bytea)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_challenge boolean := coalesce(
    latchkey.current_caller() ->> 'principal_kind' = 'mfa_challenge', false);
  v_left integer;
begin
  if v_challenge and not latchkey.lock_open_challenge() then
    return 'challenge_gone';
  end if;
  update latchkey.mfa_recovery_codes set used_at = pg_catalog.now()
  where code_hash = p_code_hash and user_id = latchkey.current_user_id() and used_at is null;
  if not found then
    return 'not_found';
  end if;
  if v_challenge then
    perform latchkey.claim_challenge('recovery_code');
  end if;
  select count(*) into v_left from latchkey.mfa_recovery_codes
  where user_id = latchkey.current_user_id() and used_at is null;
  perform latchkey.record_audit_event('auth.recovery_code_used', 'user',
    latchkey.current_user_id(), pg_catalog.jsonb_build_object('recoveryCodesLeft', v_left));
  return 'spent';
end
$$;
revoke all on function latchkey.use_recovery_code(bytea) from public;
grant execute on function latchkey.use_recovery_code(bytea) to latchkey_caller;

-- Completes the caller's challenge, claimed by a code of p_method ('totp' or 'recovery_code')
-- in this request (accept_totp_code, use_recovery_code): the challenge is spent, and an aal2
-- session begins in the same step, its amr the challenge's (the password, then the code). No
-- row when the caller holds no live challenge claimed so (spent, expired, never claimed, or the
-- account banned meanwhile).
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
    and s.amr @> pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('method', p_method))
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
    'aal2', v_amr, 'session')
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

-- Reserves one TOTP guess against the account's budget for wrong codes (p_limit per p_window,
-- GCRA, from all clients together) before the code is checked: 0, or the seconds to wait. The
-- check and the reservation are one step under a lock on the account, so guesses arriving at
-- once cannot all pass the check. Latchkey's own functions call it, as for sign-in's budgets.
create or replace function latchkey.reserve_totp_guess(
  p_user_id uuid,
  p_limit integer,
  p_window interval
)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtextextended('latchkey.totp_failures:' || p_user_id::text, 0));
  return latchkey.take_client_allowance('totp_failures', p_user_id::text, p_limit, p_window);
end
$$;
revoke all on function latchkey.reserve_totp_guess(uuid, integer, interval) from public;

-- The guess was right: it is given back to the account's budget.
create or replace function latchkey.release_totp_guess(
  p_user_id uuid,
  p_limit integer,
  p_window interval
)
returns void
language sql
security definer
set search_path = ''
as $$
  update latchkey.throttles t set allowed_at = t.allowed_at - p_window / p_limit
  where t.bucket = 'totp_failures'
    and t.subject_hash = pg_catalog.sha256(pg_catalog.convert_to(p_user_id::text, 'UTF8'))
$$;
revoke all on function latchkey.release_totp_guess(uuid, integer, interval) from public;
