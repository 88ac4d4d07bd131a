-- Second factors, passkeys (issue 28, item 1): WebAuthn credentials beside TOTP factors in
-- latchkey.mfa_factors, and the ceremonies' challenges kept here, single-use and short-lived, so
-- no challenge a client holds is ever trusted. A passkey is confirmed by its registration (the
-- authenticator proved user verification then); it keeps its public key (COSE), the signature
-- counter it last reported and what it said of itself. Callers read none of that: the key and
-- counter leave the table only through passkeys_to_check, to their owner's verification.
-- After second_factor_attacks (0500): an assertion with a sign-in's challenge as the caller
-- claims the challenge in the statement that takes the counter, as a code does, and
-- complete_sign_in_challenge takes a challenge claimed by 'webauthn'.

alter table latchkey.mfa_factors drop constraint if exists mfa_factors_type_check;
alter table latchkey.mfa_factors add constraint mfa_factors_type_check
  check (type in ('totp', 'passkey'));
alter table latchkey.mfa_factors
  add column if not exists credential_id bytea check (length(credential_id) between 16 and 1023),
  add column if not exists public_key bytea check (length(public_key) between 16 and 2048),
  add column if not exists sign_count bigint check (sign_count between 0 and 4294967295),
  add column if not exists transports text[] check (cardinality(transports) <= 8),
  add column if not exists aaguid uuid,
  add column if not exists backup_eligible boolean,
  add column if not exists backed_up boolean;
alter table latchkey.mfa_factors drop constraint if exists mfa_factors_passkey_check;
alter table latchkey.mfa_factors add constraint mfa_factors_passkey_check check (
  type <> 'passkey'
  or (credential_id is not null and public_key is not null and sign_count is not null)
);
-- One credential is one account's: the same authenticator answering for two is refused.
create unique index if not exists mfa_factors_credential_id_key
  on latchkey.mfa_factors (credential_id) where credential_id is not null;

-- A WebAuthn ceremony's challenge, stored as its SHA-256, bound to the account and the session
-- (or sign-in challenge) that asked for it; spent by the first answer, right or wrong.
create table if not exists latchkey.webauthn_challenges (
  challenge_hash bytea primary key check (length(challenge_hash) = 32),
  user_id uuid not null references latchkey.users (id) on delete cascade,
  session_id uuid not null references latchkey.sessions (id) on delete cascade,
  ceremony text not null check (ceremony in ('registration', 'authentication')),
  -- Registration: the name the new passkey gets.
  factor_name text check (length(factor_name) between 1 and 100),
  expires_at timestamptz not null,
  created_at timestamptz not null default now()
);
create index if not exists webauthn_challenges_user_id_idx
  on latchkey.webauthn_challenges (user_id, created_at);
create index if not exists webauthn_challenges_session_id_idx
  on latchkey.webauthn_challenges (session_id);
alter table latchkey.webauthn_challenges enable row level security;
alter table latchkey.webauthn_challenges force row level security;
revoke all on latchkey.webauthn_challenges from public, anon, authenticated, service_role;
drop policy if exists "Latchkey's own functions manage WebAuthn challenges"
  on latchkey.webauthn_challenges;
create policy "Latchkey's own functions manage WebAuthn challenges"
  on latchkey.webauthn_challenges to current_user using (true) with check (true);

-- Stores a new challenge for the caller's credential (a session or a sign-in challenge). The
-- caller's expired challenges go, and so do all but its newest few live ones: asking again and
-- again does not grow the table.
create or replace function latchkey.issue_webauthn_challenge(
  p_challenge_hash bytea,
  p_ceremony text,
  p_factor_name text,
  p_expires_at timestamptz
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user_id uuid := latchkey.current_user_id();
  v_session_id uuid := latchkey.current_credential_id();
begin
  if v_user_id is null or v_session_id is null
    or (latchkey.current_caller() ->> 'principal_kind') not in ('session', 'mfa_challenge')
  then
    raise exception 'a session or a sign-in challenge is required' using errcode = '42501';
  end if;
  delete from latchkey.webauthn_challenges w
  where w.user_id = v_user_id and (w.expires_at <= pg_catalog.now() or w.challenge_hash in (
    select o.challenge_hash from latchkey.webauthn_challenges o
    where o.user_id = v_user_id order by o.created_at desc offset 4));
  insert into latchkey.webauthn_challenges (challenge_hash, user_id, session_id, ceremony,
    factor_name, expires_at)
  values (p_challenge_hash, v_user_id, v_session_id, p_ceremony, p_factor_name, p_expires_at);
end
$$;
revoke all on function latchkey.issue_webauthn_challenge(bytea, text, text, timestamptz)
  from public;
grant execute on function latchkey.issue_webauthn_challenge(bytea, text, text, timestamptz)
  to latchkey_caller;

-- Spends the caller's live challenge of this ceremony, issued to this very credential: one
-- answer takes it, every other (a replay, a race, another session's) finds nothing. Returns
-- whether it was there and the name registration was asked for.
create or replace function latchkey.spend_webauthn_challenge(
  p_challenge_hash bytea,
  p_ceremony text
)
returns table (spent boolean, factor_name text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_name text;
  v_spent boolean;
begin
  delete from latchkey.webauthn_challenges w
  where w.challenge_hash = p_challenge_hash and w.user_id = latchkey.current_user_id()
    and w.session_id = latchkey.current_credential_id() and w.ceremony = p_ceremony
    and w.expires_at > pg_catalog.now()
  returning w.factor_name into v_name;
  v_spent := found;
  return query select v_spent, v_name;
end
$$;
revoke all on function latchkey.spend_webauthn_challenge(bytea, text) from public;
grant execute on function latchkey.spend_webauthn_challenge(bytea, text) to latchkey_caller;

-- The caller's passkeys a verification needs: p_id's, or with p_id null every one. The only
-- way the public keys and counters leave the table.
create or replace function latchkey.passkeys_to_check(p_id uuid)
returns table (
  id uuid, name text, credential_id bytea, public_key bytea, sign_count bigint,
  transports text[]
)
language sql
stable
security definer
set search_path = ''
as $$
  select f.id, f.name, f.credential_id, f.public_key, f.sign_count, f.transports
  from latchkey.mfa_factors f
  where f.user_id = latchkey.current_user_id() and f.type = 'passkey'
    and (p_id is null or f.id = p_id)
  order by f.created_at, f.id
$$;
revoke all on function latchkey.passkeys_to_check(uuid) from public;
grant execute on function latchkey.passkeys_to_check(uuid) to latchkey_caller;

-- Registers a passkey the route has verified, confirmed at once, within p_max_factors (counted
-- under a lock on the caller's row, as TOTP enrolment does). When the caller holds no unused
-- recovery codes, p_recovery_code_hashes become theirs. Outcomes: 'registered',
-- 'limit_reached', 'duplicate' (the credential is registered already, to anyone).
create or replace function latchkey.register_passkey(
  p_id uuid,
  p_name text,
  p_credential_id bytea,
  p_public_key bytea,
  p_sign_count bigint,
  p_transports text[],
  p_aaguid uuid,
  p_backup_eligible boolean,
  p_backed_up boolean,
  p_max_factors integer,
  p_recovery_code_hashes bytea[]
)
returns table (outcome text, recovery_codes_issued boolean)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user_id uuid := latchkey.current_user_id();
  v_issued boolean := false;
begin
  if v_user_id is null or latchkey.current_principal_kind() <> 'session' then
    raise exception 'a session is required' using errcode = '42501';
  end if;
  perform 1 from latchkey.users where id = v_user_id for update;
  if (select count(*) from latchkey.mfa_factors where user_id = v_user_id) >= p_max_factors then
    return query select 'limit_reached'::text, false;
    return;
  end if;
  if exists (select 1 from latchkey.mfa_factors f where f.credential_id = p_credential_id) then
    perform latchkey.record_audit_event('auth.passkey_registration_failed', 'user', v_user_id,
      pg_catalog.jsonb_build_object('reason', 'duplicate_credential'));
    return query select 'duplicate'::text, false;
    return;
  end if;
  insert into latchkey.mfa_factors (id, user_id, type, name, confirmed_at, credential_id,
    public_key, sign_count, transports, aaguid, backup_eligible, backed_up, last_used_at)
  values (p_id, v_user_id, 'passkey', p_name, pg_catalog.now(), p_credential_id, p_public_key,
    p_sign_count, p_transports, p_aaguid, p_backup_eligible, p_backed_up, pg_catalog.now());
  if not exists (
    select 1 from latchkey.mfa_recovery_codes c where c.user_id = v_user_id and c.used_at is null
  ) then
    delete from latchkey.mfa_recovery_codes c where c.user_id = v_user_id;
    insert into latchkey.mfa_recovery_codes (code_hash, user_id)
    select h, v_user_id from pg_catalog.unnest(p_recovery_code_hashes) h;
    v_issued := true;
  end if;
  perform latchkey.record_audit_event('auth.passkey_registered', 'factor', p_id,
    pg_catalog.jsonb_build_object('type', 'passkey', 'name', p_name, 'aaguid', p_aaguid,
      'backedUp', p_backed_up, 'recoveryCodesIssued', v_issued));
  return query select 'registered'::text, v_issued;
end
$$;
revoke all on function latchkey.register_passkey(uuid, text, bytea, bytea, bigint, text[], uuid,
  boolean, boolean, integer, bytea[]) from public;
grant execute on function latchkey.register_passkey(uuid, text, bytea, bytea, bigint, text[],
  uuid, boolean, boolean, integer, bytea[]) to latchkey_caller;

-- Records an assertion the route found right (signature, challenge, origin, user verification)
-- with the counter it reported, atomically against clones: a counter that is not above the
-- stored one, when either is not zero, is refused ('counter_not_increased', audited) and
-- nothing changes. Otherwise 'verified'; 'not_found' when the passkey is not the caller's. With
-- a sign-in's challenge as the caller, 'challenge_gone' (nothing taken) when another factor has
-- claimed it or it is spent; a taken assertion claims it for 'webauthn'.
create or replace function latchkey.accept_passkey_assertion(
  p_id uuid,
  p_sign_count bigint,
  p_backed_up boolean
)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_challenge boolean := coalesce(
    latchkey.current_caller() ->> 'principal_kind' = 'mfa_challenge', false);
  v_stored bigint;
begin
  if v_challenge and not latchkey.lock_open_challenge() then
    return 'challenge_gone';
  end if;
  select f.sign_count into v_stored from latchkey.mfa_factors f
  where f.id = p_id and f.user_id = latchkey.current_user_id() and f.type = 'passkey'
  for update;
  if not found then
    return 'not_found';
  end if;
  if (p_sign_count <> 0 or v_stored <> 0) and p_sign_count <= v_stored then
    perform latchkey.record_audit_event('auth.factor_verify_failed', 'factor', p_id,
      pg_catalog.jsonb_build_object('reason', 'counter_not_increased', 'type', 'passkey',
        'storedCount', v_stored, 'reportedCount', p_sign_count));
    return 'counter_not_increased';
  end if;
  update latchkey.mfa_factors f set sign_count = p_sign_count, backed_up = p_backed_up,
    last_used_at = pg_catalog.now()
  where f.id = p_id;
  if v_challenge then
    perform latchkey.claim_challenge('webauthn');
  end if;
  perform latchkey.record_audit_event('auth.factor_verified', 'factor', p_id,
    pg_catalog.jsonb_build_object('type', 'passkey'));
  return 'verified';
end
$$;
revoke all on function latchkey.accept_passkey_assertion(uuid, bigint, boolean) from public;
grant execute on function latchkey.accept_passkey_assertion(uuid, bigint, boolean)
  to latchkey_caller;

-- Completes the caller's challenge, claimed by a second factor of p_method in this request
-- (accept_totp_code, use_recovery_code, accept_passkey_assertion): as second_factor_attacks
-- left it, with 'webauthn' among the methods, as Supabase Auth names a passkey in `amr`.
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
    or p_method not in ('totp', 'recovery_code', 'webauthn') then
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

-- A session raised (or stepped up) by a passkey: 'webauthn' joins the methods.
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
  if latchkey.current_principal_kind() <> 'session'
    or p_method not in ('totp', 'recovery_code', 'webauthn')
  then
    raise exception 'only a session raises its own assurance' using errcode = '42501';
  end if;
  update latchkey.sessions s set aal = 'aal2',
    amr = coalesce((
      select pg_catalog.jsonb_agg(e order by n) from pg_catalog.jsonb_array_elements(s.amr)
        with ordinality as a (e, n)
      where e ->> 'method' is distinct from p_method), '[]'::jsonb)
      || pg_catalog.jsonb_build_array(latchkey.amr_entry(p_method))
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
