-- Second factors, first increment (issue 28, item 1): TOTP factors and recovery codes. A TOTP
-- secret is stored only as AES-256-GCM ciphertext (the key is LATCHKEY_MFA_ENCRYPTION_KEY, which
-- the database never sees), so a dump or a replica of this table does not hand out codes.

create table if not exists latchkey.mfa_factors (
  id uuid primary key,
  user_id uuid not null references latchkey.users (id) on delete cascade,
  -- 'passkey' joins in a later increment; its public key will need columns of its own.
  type text not null check (type in ('totp')),
  name text not null check (length(name) between 1 and 100),
  -- nonce (12 bytes) || AES-256-GCM ciphertext and tag, the factor id as associated data.
  secret_ciphertext bytea check (length(secret_ciphertext) between 29 and 200),
  confirmed_at timestamptz,
  last_used_at timestamptz,
  -- The newest TOTP time step accepted: a code of that step or an older one is a replay.
  last_used_step bigint,
  created_at timestamptz not null default now(),
  check (type <> 'totp' or secret_ciphertext is not null)
);
create index if not exists mfa_factors_user_id_created_at_idx
  on latchkey.mfa_factors (user_id, created_at);
alter table latchkey.mfa_factors enable row level security;
alter table latchkey.mfa_factors force row level security;
revoke all on latchkey.mfa_factors from public, anon, authenticated, service_role;
drop policy if exists "Latchkey's own functions manage factors" on latchkey.mfa_factors;
create policy "Latchkey's own functions manage factors" on latchkey.mfa_factors
  to current_user using (true) with check (true);
drop policy if exists "Callers read their own factors" on latchkey.mfa_factors;
create policy "Callers read their own factors" on latchkey.mfa_factors
  for select to latchkey_caller
  using (user_id = (select latchkey.current_user_id()));
drop policy if exists "Callers rename their own factors" on latchkey.mfa_factors;
create policy "Callers rename their own factors" on latchkey.mfa_factors
  for update to latchkey_caller
  using (user_id = (select latchkey.current_user_id()))
  with check (user_id = (select latchkey.current_user_id()));
-- Never the ciphertext: the secret is read only through totp_factors_to_check, by its owner.
grant select (id, user_id, type, name, confirmed_at, last_used_at, created_at)
  on latchkey.mfa_factors to latchkey_caller;
grant update (name) on latchkey.mfa_factors to latchkey_caller;

-- Single-use recovery codes, stored as SHA-256 (a code has 80 random bits: no salt, no slow hash).
create table if not exists latchkey.mfa_recovery_codes (
  code_hash bytea primary key check (length(code_hash) = 32),
  user_id uuid not null references latchkey.users (id) on delete cascade,
  used_at timestamptz,
  created_at timestamptz not null default now()
);
create index if not exists mfa_recovery_codes_user_id_idx
  on latchkey.mfa_recovery_codes (user_id) where used_at is null;
alter table latchkey.mfa_recovery_codes enable row level security;
alter table latchkey.mfa_recovery_codes force row level security;
revoke all on latchkey.mfa_recovery_codes from public, anon, authenticated, service_role;
drop policy if exists "Latchkey's own functions manage recovery codes" on latchkey.mfa_recovery_codes;
create policy "Latchkey's own functions manage recovery codes" on latchkey.mfa_recovery_codes
  to current_user using (true) with check (true);
drop policy if exists "Callers read their own recovery codes' state" on latchkey.mfa_recovery_codes;
create policy "Callers read their own recovery codes' state" on latchkey.mfa_recovery_codes
  for select to latchkey_caller
  using (user_id = (select latchkey.current_user_id()));
grant select (user_id, used_at, created_at) on latchkey.mfa_recovery_codes to latchkey_caller;

-- Enrols an unconfirmed TOTP factor for the caller, within p_max_factors (counted under a lock
-- on the caller's row, so concurrent enrolments cannot pass it). 'enrolled' or 'limit_reached'.
create or replace function latchkey.enrol_totp_factor(
  p_id uuid,
  p_name text,
  p_secret_ciphertext bytea,
  p_max_factors integer
)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user_id uuid := latchkey.current_user_id();
begin
  if v_user_id is null then
    raise exception 'a caller is required' using errcode = '42501';
  end if;
  perform 1 from latchkey.users where id = v_user_id for update;
  if (select count(*) from latchkey.mfa_factors where user_id = v_user_id) >= p_max_factors then
    return 'limit_reached';
  end if;
  insert into latchkey.mfa_factors (id, user_id, type, name, secret_ciphertext)
  values (p_id, v_user_id, 'totp', p_name, p_secret_ciphertext);
  perform latchkey.record_audit_event('auth.factor_enrolled', 'factor', p_id,
    pg_catalog.jsonb_build_object('type', 'totp', 'name', p_name));
  return 'enrolled';
end
$$;
revoke all on function latchkey.enrol_totp_factor(uuid, text, bytea, integer) from public;
grant execute on function latchkey.enrol_totp_factor(uuid, text, bytea, integer)
  to latchkey_caller;

-- The caller's TOTP factors whose codes a route checks: p_id's (confirmed or not), or with
-- p_id null every confirmed one. The only way the ciphertext leaves the table.
create or replace function latchkey.totp_factors_to_check(p_id uuid)
returns table (id uuid, secret_ciphertext bytea, confirmed boolean)
language sql
stable
security definer
set search_path = ''
as $$
  select f.id, f.secret_ciphertext, f.confirmed_at is not null
  from latchkey.mfa_factors f
  where f.user_id = latchkey.current_user_id() and f.type = 'totp'
    and (f.id = p_id or (p_id is null and f.confirmed_at is not null))
  order by f.created_at, f.id
$$;
revoke all on function latchkey.totp_factors_to_check(uuid) from public;
grant execute on function latchkey.totp_factors_to_check(uuid) to latchkey_caller;

-- Records a code the route found right for time step p_step, atomically against replays: the
-- step must be newer than the last accepted one. Outcomes: 'replayed'; 'confirmed' (its first
-- success: when the caller holds no unused recovery codes, p_recovery_code_hashes become theirs
-- and recovery_codes_issued is true); 'verified'; 'not_found'.
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
  v_was_confirmed boolean;
  v_issued boolean := false;
begin
  select f.confirmed_at is not null into v_was_confirmed
  from latchkey.mfa_factors f
  where f.id = p_id and f.user_id = v_user_id and f.type = 'totp'
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

-- Spends one of the caller's unused recovery codes; true when it was one.
create or replace function latchkey.spend_recovery_code(p_code_hash bytea)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_left integer;
begin
  update latchkey.mfa_recovery_codes set used_at = pg_catalog.now()
  where code_hash = p_code_hash and user_id = latchkey.current_user_id() and used_at is null;
  if not found then
    return false;
  end if;
  select count(*) into v_left from latchkey.mfa_recovery_codes
  where user_id = latchkey.current_user_id() and used_at is null;
  perform latchkey.record_audit_event('auth.recovery_code_used', 'user',
    latchkey.current_user_id(), pg_catalog.jsonb_build_object('recoveryCodesLeft', v_left));
  return true;
end
$$;
revoke all on function latchkey.spend_recovery_code(bytea) from public;
grant execute on function latchkey.spend_recovery_code(bytea) to latchkey_caller;

-- Removes one of the caller's factors (the route has already asked for a fresh second factor
-- when it was confirmed). With the last confirmed factor go the recovery codes: they stand in
-- for a factor and must not outlive every one. False when the caller has no such factor.
create or replace function latchkey.remove_factor(p_id uuid)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user_id uuid := latchkey.current_user_id();
  v_factor record;
begin
  delete from latchkey.mfa_factors f where f.id = p_id and f.user_id = v_user_id
  returning f.type, f.name, f.confirmed_at is not null as confirmed into v_factor;
  if not found then
    return false;
  end if;
  if not exists (
    select 1 from latchkey.mfa_factors f where f.user_id = v_user_id and f.confirmed_at is not null
  ) then
    delete from latchkey.mfa_recovery_codes c where c.user_id = v_user_id;
  end if;
  perform latchkey.record_audit_event('auth.factor_removed', 'factor', p_id,
    pg_catalog.jsonb_build_object('type', v_factor.type, 'name', v_factor.name,
      'confirmed', v_factor.confirmed));
  return true;
end
$$;
revoke all on function latchkey.remove_factor(uuid) from public;
grant execute on function latchkey.remove_factor(uuid) to latchkey_caller;
