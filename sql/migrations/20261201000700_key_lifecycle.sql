-- Key lifecycle: disable without revoking, metadata returned on verify, usage limits (credits)
-- with lazy refill, rotation with an overlap that shares one budget, a smooth rate limit
-- (GCRA instead of fixed minute windows, which let 2·L requests through at a minute's edge),
-- and hourly usage counters written on the hot path.

-- When an account's address was proven its owner's (account recovery sets it; the key check
-- below returns it with the principal, so it is added here, before the check names it).
alter table latchkey.users add column if not exists email_verified_at timestamptz;
grant select (email_verified_at) on latchkey.users to latchkey_caller;

alter table latchkey.api_keys
  add column if not exists enabled boolean not null default true,
  -- The API accepts at most 2 KiB of JSON as sent; this is the backstop for any other writer
  -- (jsonb's text form adds a space after each `:` and `,`).
  add column if not exists metadata jsonb not null default '{}'
    constraint api_keys_metadata_is_a_small_object
    check (pg_catalog.jsonb_typeof(metadata) = 'object' and octet_length(metadata::text) <= 4096),
  -- Credits: null means unlimited; each VALID verification takes one.
  add column if not exists remaining integer
    constraint api_keys_remaining_not_negative check (remaining >= 0),
  add column if not exists refill_amount integer
    constraint api_keys_refill_amount_range check (refill_amount between 1 and 1000000000),
  add column if not exists refill_interval text
    constraint api_keys_refill_interval_known check (refill_interval in ('day', 'month')),
  add column if not exists refilled_at timestamptz,
  -- Set on a rotated key: the key that replaced it, whose rate limit and credits it shares
  -- until it expires at the end of the overlap.
  add column if not exists replaced_by uuid references latchkey.api_keys (id) on delete set null;

alter table latchkey.api_keys drop constraint if exists api_keys_refill_needs_credits;
alter table latchkey.api_keys add constraint api_keys_refill_needs_credits check (
  (refill_amount is null) = (refill_interval is null)
  and (refill_amount is null or remaining is not null)
);
-- The foreign key's index (the advisor's unindexed_foreign_keys), and what finds a key's
-- predecessor.
create index if not exists api_keys_replaced_by_idx on latchkey.api_keys (replaced_by)
  where replaced_by is not null;

grant select (enabled, metadata, remaining, refill_amount, refill_interval, refilled_at, replaced_by)
  on latchkey.api_keys to latchkey_caller;
grant insert (metadata, remaining, refill_amount, refill_interval, refilled_at)
  on latchkey.api_keys to latchkey_caller;

-- Usage limits are set by key writers only; the owner may name its keys and attach metadata.
drop policy if exists "Callers create keys within what they hold" on latchkey.api_keys;
create policy "Callers create keys within what they hold" on latchkey.api_keys
  for insert to latchkey_caller with check (
    latchkey.caller_holds_scopes(scopes) and (
      (user_id = (select latchkey.current_user_id()) and key_type = 'human'
        and remaining is null and refill_amount is null)
      or ((select latchkey.caller_has_permission('keys:write')) and (
        user_id = (select latchkey.current_user_id())
        or latchkey.caller_reaches_user(user_id)
        or (select latchkey.caller_has_permission('roles:write'))
      ))
    )
  );

-- One UNLOGGED meter row per key, the only row the hot path writes: GCRA state and the current
-- hour's verification counts. GCRA: `tat` is the theoretical arrival time; a request passes
-- while tat, pushed one emission interval T = 60 s / L, stays within L·T of now, so a key
-- passes a burst of L and then one every T: at most L + ⌈L·t/60⌉ in any t seconds. When the
-- hour turns, the previous hour's counts move to `prev_*` in the same statement, and that
-- request writes them to the logged history (api_key_usage), once a key and hour. A crash
-- forgets at most a minute of budget and the key's current hour of counts.
create unlogged table if not exists latchkey.api_key_meters (
  key_id uuid primary key references latchkey.api_keys (id) on delete cascade,
  tat timestamptz,
  allowed boolean not null default true,
  hour timestamptz not null,
  valid integer not null default 0,
  rate_limited integer not null default 0,
  rejected integer not null default 0,
  prev_hour timestamptz,
  prev_valid integer not null default 0,
  prev_rate_limited integer not null default 0,
  prev_rejected integer not null default 0,
  prev_saved boolean not null default true
);
alter table latchkey.api_key_meters enable row level security;
alter table latchkey.api_key_meters force row level security;
revoke all on latchkey.api_key_meters from public, anon, authenticated, service_role;
grant select (key_id, hour, valid, rate_limited, rejected, prev_hour, prev_valid,
  prev_rate_limited, prev_rejected, prev_saved) on latchkey.api_key_meters to latchkey_caller;
drop policy if exists "Latchkey's own functions meter requests" on latchkey.api_key_meters;
create policy "Latchkey's own functions meter requests" on latchkey.api_key_meters
  to current_user using (true) with check (true);
-- Whoever may read the key may read its counts: the keys' own policy decides, through RLS on
-- the subquery.
drop policy if exists "Callers read the counts of the keys they may read" on latchkey.api_key_meters;
create policy "Callers read the counts of the keys they may read" on latchkey.api_key_meters
  for select to latchkey_caller
  using (exists (select from latchkey.api_keys k where k.id = key_id));

-- Verifications per key and hour, by outcome, for the hours that are over. Logged: this is
-- history people read.
create table if not exists latchkey.api_key_usage (
  key_id uuid not null references latchkey.api_keys (id) on delete cascade,
  hour timestamptz not null,
  valid integer not null default 0,
  rate_limited integer not null default 0,
  rejected integer not null default 0,
  primary key (key_id, hour)
);
alter table latchkey.api_key_usage enable row level security;
alter table latchkey.api_key_usage force row level security;
revoke all on latchkey.api_key_usage from public, anon, authenticated, service_role;
grant select on latchkey.api_key_usage to latchkey_caller;
drop policy if exists "Latchkey's own functions count usage" on latchkey.api_key_usage;
create policy "Latchkey's own functions count usage" on latchkey.api_key_usage
  to current_user using (true) with check (true);
drop policy if exists "Callers read the usage of the keys they may read" on latchkey.api_key_usage;
create policy "Callers read the usage of the keys they may read" on latchkey.api_key_usage
  for select to latchkey_caller
  using (exists (select from latchkey.api_keys k where k.id = key_id));

-- Counts outcomes on a key's meter row without metering (a refused key, a key in a rotation's
-- overlap, a correction); the hour's turn as in the hot path. Returns whether the previous
-- hour still has to be saved.
create or replace function latchkey.count_key_outcome(
  p_key_id uuid,
  p_now timestamptz,
  p_valid integer,
  p_rate_limited integer,
  p_rejected integer
)
returns boolean
language sql
security definer
set search_path = ''
as $$
  insert into latchkey.api_key_meters as m (key_id, hour, valid, rate_limited, rejected)
  values (
    p_key_id, pg_catalog.date_trunc('hour', p_now, 'UTC'), greatest(p_valid, 0),
    greatest(p_rate_limited, 0), greatest(p_rejected, 0)
  )
  on conflict (key_id) do update set
    hour = excluded.hour,
    valid = case when m.hour = excluded.hour then m.valid else 0 end + p_valid,
    rate_limited = case when m.hour = excluded.hour then m.rate_limited else 0 end
      + p_rate_limited,
    rejected = case when m.hour = excluded.hour then m.rejected else 0 end + p_rejected,
    prev_hour = case when m.hour = excluded.hour then m.prev_hour else m.hour end,
    prev_valid = case when m.hour = excluded.hour then m.prev_valid else m.valid end,
    prev_rate_limited = case when m.hour = excluded.hour then m.prev_rate_limited
      else m.rate_limited end,
    prev_rejected = case when m.hour = excluded.hour then m.prev_rejected else m.rejected end,
    prev_saved = m.hour = excluded.hour and m.prev_saved
  returning not m.prev_saved
$$;
revoke all on function latchkey.count_key_outcome(uuid, timestamptz, integer, integer, integer)
  from public;

-- Writes a meter's previous hour to the history, once (the caller holds the meter's row lock).
create or replace function latchkey.save_key_hour(p_key_id uuid)
returns void
language sql
security definer
set search_path = ''
as $$
  with saved as (
    update latchkey.api_key_meters m set prev_saved = true
    where m.key_id = p_key_id and not m.prev_saved
    returning m.key_id, m.prev_hour, m.prev_valid, m.prev_rate_limited, m.prev_rejected
  )
  insert into latchkey.api_key_usage as u (key_id, hour, valid, rate_limited, rejected)
  select key_id, prev_hour, prev_valid, prev_rate_limited, prev_rejected from saved
  where prev_hour is not null
  on conflict (key_id, hour) do update set
    valid = u.valid + excluded.valid,
    rate_limited = u.rate_limited + excluded.rate_limited,
    rejected = u.rejected + excluded.rejected
$$;
revoke all on function latchkey.save_key_hour(uuid) from public;

-- The hot path gets a new name with its new answer: a function's result type cannot change in
-- place, and the old name stays for the migrations before this one to redefine when they run
-- again (then this one drops it again).
drop function if exists latchkey.authenticate_api_key(bytea, jsonb);
drop table if exists latchkey.rate_limit_windows;

-- The hot path, in one call: find the key; refuse it when revoked, expired, disabled or its
-- owner is banned; meter it (GCRA, on the successor's row during a rotation's overlap); take
-- a credit when it has a usage limit (refilled lazily when an interval boundary has passed);
-- count the outcome in the key's hour; touch last_used_at at most once a minute.
-- Codes: VALID, NOT_FOUND, REVOKED, EXPIRED, DISABLED, OWNER_BANNED, RATE_LIMITED,
-- USAGE_EXCEEDED.
create or replace function latchkey.verify_api_key(p_key_hash bytea, p_request jsonb)
returns table (
  code text,
  key_id uuid,
  user_id uuid,
  scopes text[],
  rate_limit integer,
  rate_limit_remaining integer,
  reset_at timestamptz,
  credits_remaining integer,
  metadata jsonb,
  user_email text,
  user_name text,
  user_role text,
  user_tier text,
  user_created_at timestamptz,
  user_email_verified_at timestamptz
)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_key record;
  v_code text;
  v_now timestamptz := pg_catalog.now();
  v_hour timestamptz := pg_catalog.date_trunc('hour', pg_catalog.now(), 'UTC');
  v_interval interval;
  v_capacity interval;
  v_own boolean;
  v_allowed boolean;
  v_save boolean;
  v_tat timestamptz;
  v_left integer;
  v_credits integer;
  v_repeats integer;
begin
  select k.id, k.user_id, k.scopes, k.rate_limit_per_minute, k.expires_at, k.revoked_at,
    k.enabled, k.metadata, k.remaining, coalesce(k.replaced_by, k.id) as limits_key,
    k.last_used_at, u.email, u.name, u.role, u.tier, u.created_at, u.banned_at,
    u.email_verified_at
  into v_key
  from latchkey.api_keys k
  join latchkey.users u on u.id = k.user_id
  where k.key_hash = p_key_hash;

  if not found then
    return query select 'NOT_FOUND'::text, null::uuid, null::uuid, null::text[], null::integer,
      null::integer, null::timestamptz, null::integer, null::jsonb, null::text, null::text,
      null::text, null::text, null::timestamptz, null::timestamptz;
    return;
  end if;

  v_code := case
    when v_key.revoked_at is not null then 'REVOKED'
    when v_key.expires_at is not null and v_key.expires_at <= v_now then 'EXPIRED'
    when not v_key.enabled then 'DISABLED'
    when v_key.banned_at is not null then 'OWNER_BANNED'
  end;

  -- Counters are cheap to lose and hot to write: do not wait for the WAL flush (an audit
  -- event below turns it back on). Set before the hot row is locked, as everything else that
  -- can be: the lock is held until commit.
  perform pg_catalog.set_config('synchronous_commit', 'off', true);

  if v_code is null then
    v_interval := interval '1 minute' / v_key.rate_limit_per_minute;
    v_capacity := v_interval * v_key.rate_limit_per_minute;
    -- A key in a rotation's overlap is metered on its successor's row and counted on its own.
    v_own := v_key.limits_key = v_key.id;
    insert into latchkey.api_key_meters as m (key_id, tat, allowed, hour, valid)
    values (v_key.limits_key, v_now + v_interval, true, v_hour, v_own::integer)
    on conflict (key_id) do update set
      allowed = m.tat is null or greatest(m.tat, v_now) + v_interval - v_now <= v_capacity,
      tat = case
        when m.tat is null or greatest(m.tat, v_now) + v_interval - v_now <= v_capacity
          then greatest(m.tat, v_now) + v_interval
        else m.tat
      end,
      hour = v_hour,
      valid = case when m.hour = v_hour then m.valid else 0 end + (v_own and (
        m.tat is null or greatest(m.tat, v_now) + v_interval - v_now <= v_capacity
      ))::integer,
      rate_limited = case when m.hour = v_hour then m.rate_limited else 0 end + (v_own and not (
        m.tat is null or greatest(m.tat, v_now) + v_interval - v_now <= v_capacity
      ))::integer,
      rejected = case when m.hour = v_hour then m.rejected else 0 end,
      prev_hour = case when m.hour = v_hour then m.prev_hour else m.hour end,
      prev_valid = case when m.hour = v_hour then m.prev_valid else m.valid end,
      prev_rate_limited = case when m.hour = v_hour then m.prev_rate_limited
        else m.rate_limited end,
      prev_rejected = case when m.hour = v_hour then m.prev_rejected else m.rejected end,
      prev_saved = m.hour = v_hour and m.prev_saved
    returning m.allowed, m.tat, not m.prev_saved into v_allowed, v_tat, v_save;
    if v_save then
      perform latchkey.save_key_hour(v_key.limits_key);
    end if;
    if not v_own and latchkey.count_key_outcome(
      v_key.id, v_now, v_allowed::integer, (not v_allowed)::integer, 0
    ) then
      perform latchkey.save_key_hour(v_key.id);
    end if;
    v_left := case when v_allowed then greatest(0, floor(
      extract(epoch from (v_capacity - (v_tat - v_now))) * v_key.rate_limit_per_minute / 60
    ))::integer else 0 end;

    if not v_allowed then
      v_code := 'RATE_LIMITED';
      -- Only the first refusal of a key's minute is audited, so a flood writes one row a minute.
      v_repeats := latchkey.first_in_minute('api_key.rate_limited:' || v_key.id::text);
      if v_repeats is not null then
        perform pg_catalog.set_config('synchronous_commit', 'on', true);
        perform latchkey.append_audit_event(
          'api_key', v_key.user_id, v_key.id, 'api_key.rate_limited', 'api_key', v_key.id,
          p_request, pg_catalog.jsonb_build_object(
            'limit', v_key.rate_limit_per_minute, 'repeatsInPreviousMinute', v_repeats
          )
        );
      end if;
    elsif v_key.remaining is not null then
      -- Exact under concurrency: the row lock serialises takers, and each rechecks the credit
      -- it takes. A refill is due once the interval's boundary has passed since the last one.
      update latchkey.api_keys k set
        remaining = case
          when k.refill_interval is not null
            and pg_catalog.date_trunc(k.refill_interval, v_now, 'UTC') > k.refilled_at
            then k.refill_amount - 1
          else k.remaining - 1
        end,
        refilled_at = case
          when k.refill_interval is not null
            and pg_catalog.date_trunc(k.refill_interval, v_now, 'UTC') > k.refilled_at
            then v_now
          else k.refilled_at
        end
      where k.id = v_key.limits_key and k.remaining is not null and (
        k.remaining > 0 or (
          k.refill_interval is not null
          and pg_catalog.date_trunc(k.refill_interval, v_now, 'UTC') > k.refilled_at
        )
      )
      returning k.remaining into v_credits;
      if not found then
        -- Out of credits: the meter counted it valid; it is a refusal.
        v_code := 'USAGE_EXCEEDED';
        v_credits := 0;
        perform latchkey.count_key_outcome(v_key.id, v_now, -1, 0, 1);
      end if;
    end if;
  else
    if latchkey.count_key_outcome(v_key.id, v_now, 0, 0, 1) then
      perform latchkey.save_key_hour(v_key.id);
    end if;
  end if;

  if v_code is null then
    v_code := 'VALID';
    if v_key.last_used_at is null or v_key.last_used_at < v_now - interval '1 minute' then
      -- Rechecked under the row lock, so a burst at the minute's turn writes once.
      update latchkey.api_keys set last_used_at = v_now
      where id = v_key.id
        and (last_used_at is null or last_used_at < v_now - interval '1 minute');
    end if;
  elsif v_code <> 'RATE_LIMITED' then
    v_repeats := latchkey.first_in_minute('api_key.rejected:' || v_key.id::text);
    if v_repeats is not null then
      perform pg_catalog.set_config('synchronous_commit', 'on', true);
      perform latchkey.append_audit_event(
        'api_key', v_key.user_id, v_key.id, 'api_key.rejected', 'api_key', v_key.id, p_request,
        pg_catalog.jsonb_build_object('reason', v_code, 'repeatsInPreviousMinute', v_repeats)
      );
    end if;
  end if;

  return query select v_code, v_key.id, v_key.user_id, v_key.scopes,
    v_key.rate_limit_per_minute, v_left, v_tat,
    case when v_key.remaining is not null then coalesce(v_credits, v_key.remaining) end,
    case when v_code = 'VALID' then v_key.metadata end,
    v_key.email, v_key.name, v_key.role, v_key.tier, v_key.created_at, v_key.email_verified_at;
end
$$;
revoke all on function latchkey.verify_api_key(bytea, jsonb) from public;

-- A key's name, enabled flag and metadata, by its owner (an API key only itself) or a key
-- writer who reaches the owner; usage limits and the rate limit by key writers only. Changes
-- named in `p_changes` by their API names: name, enabled, metadata, remaining, refill
-- ({amount, interval} or null), rateLimitPerMinute. Returns 'updated', 'not_found' or
-- 'forbidden'.
create or replace function latchkey.update_api_key(p_id uuid, p_changes jsonb)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_key record;
  v_owner boolean;
  v_writer boolean;
  v_refill jsonb := p_changes -> 'refill';
begin
  select k.user_id into v_key from latchkey.api_keys k where k.id = p_id for update;
  if not found then
    return 'not_found';
  end if;
  v_owner := v_key.user_id = latchkey.current_user_id() and (
    latchkey.current_principal_kind() <> 'api_key' or p_id = latchkey.current_credential_id()
  );
  v_writer := latchkey.caller_has_permission('keys:write')
    and latchkey.caller_reaches_user(v_key.user_id);
  if not (v_owner or v_writer)
    or (p_changes ?| array['remaining', 'refill', 'rateLimitPerMinute'] and not v_writer) then
    return 'forbidden';
  end if;
  update latchkey.api_keys k set
    name = coalesce(p_changes ->> 'name', k.name),
    enabled = coalesce((p_changes ->> 'enabled')::boolean, k.enabled),
    metadata = coalesce(p_changes -> 'metadata', k.metadata),
    rate_limit_per_minute = coalesce(
      (p_changes ->> 'rateLimitPerMinute')::integer, k.rate_limit_per_minute
    ),
    remaining = case when p_changes ? 'remaining'
      then (p_changes ->> 'remaining')::integer else k.remaining end,
    refill_amount = case when p_changes ? 'refill'
      then (v_refill ->> 'amount')::integer else k.refill_amount end,
    refill_interval = case when p_changes ? 'refill'
      then v_refill ->> 'interval' else k.refill_interval end,
    refilled_at = case when p_changes ?| array['remaining', 'refill']
      then pg_catalog.now() else k.refilled_at end
  where k.id = p_id;
  return 'updated';
end
$$;
revoke all on function latchkey.update_api_key(uuid, jsonb) from public;
grant execute on function latchkey.update_api_key(uuid, jsonb) to latchkey_caller;

-- A new secret for a key: the new key copies the old one's name, scopes, type, limits, expiry,
-- enabled flag and metadata and takes over its rate-limit state and credits; the old key
-- keeps working until now + p_overlap (then it verifies as EXPIRED), metered on the new key's
-- row, so a rotation never doubles a budget. By the owner's session, or a key writer who
-- reaches the owner. Returns the outcome ('rotated', 'not_found', 'forbidden', 'not_active',
-- 'already_rotated') and the new key's id.
create or replace function latchkey.rotate_api_key(
  p_id uuid,
  p_key_prefix text,
  p_key_hash bytea,
  p_overlap interval,
  out outcome text,
  out new_key_id uuid
)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_old latchkey.api_keys;
begin
  select * into v_old from latchkey.api_keys k where k.id = p_id for update;
  if not found then
    outcome := 'not_found';
    return;
  end if;
  if not (
    (v_old.user_id = latchkey.current_user_id() and latchkey.current_principal_kind() = 'session')
    or (latchkey.caller_has_permission('keys:write') and latchkey.caller_reaches_user(v_old.user_id))
  ) then
    outcome := 'forbidden';
    return;
  end if;
  if v_old.replaced_by is not null then
    outcome := 'already_rotated';
    return;
  end if;
  if v_old.revoked_at is not null
    or (v_old.expires_at is not null and v_old.expires_at <= pg_catalog.now()) then
    outcome := 'not_active';
    return;
  end if;

  insert into latchkey.api_keys (
    user_id, name, key_prefix, key_hash, scopes, key_type, rate_limit_per_minute, expires_at,
    enabled, metadata, remaining, refill_amount, refill_interval, refilled_at, created_by
  ) values (
    v_old.user_id, v_old.name, p_key_prefix, p_key_hash, v_old.scopes, v_old.key_type,
    v_old.rate_limit_per_minute, v_old.expires_at, v_old.enabled, v_old.metadata,
    v_old.remaining, v_old.refill_amount, v_old.refill_interval, v_old.refilled_at,
    latchkey.current_user_id()
  )
  returning id into new_key_id;

  insert into latchkey.api_key_meters (key_id, tat, hour)
  select new_key_id, m.tat, pg_catalog.date_trunc('hour', pg_catalog.now(), 'UTC')
  from latchkey.api_key_meters m where m.key_id = p_id;

  -- A predecessor still in its overlap now shares the newest key's budget.
  update latchkey.api_keys k set replaced_by = new_key_id where k.replaced_by = p_id;
  update latchkey.api_keys k set
    replaced_by = new_key_id,
    expires_at = least(coalesce(k.expires_at, 'infinity'), pg_catalog.now() + p_overlap)
  where k.id = p_id;
  outcome := 'rotated';
end
$$;
revoke all on function latchkey.rotate_api_key(uuid, text, bytea, interval) from public;
grant execute on function latchkey.rotate_api_key(uuid, text, bytea, interval)
  to latchkey_caller;

-- Many key checks in one statement and one transaction, each with its own answer, in the
-- order given. Under load the service coalesces the checks of one key that wait for its
-- running check into one of these: one round trip, one commit, and the key's meter row locked
-- once per batch instead of once per check.
create or replace function latchkey.verify_api_keys(p_checks jsonb)
returns table (
  ordinality bigint,
  code text,
  key_id uuid,
  user_id uuid,
  scopes text[],
  rate_limit integer,
  rate_limit_remaining integer,
  reset_at timestamptz,
  credits_remaining integer,
  metadata jsonb,
  user_email text,
  user_name text,
  user_role text,
  user_tier text,
  user_created_at timestamptz,
  user_email_verified_at timestamptz
)
language sql
security definer
set search_path = ''
as $$
  select c.n, v.*
  from pg_catalog.jsonb_array_elements(p_checks) with ordinality as c (item, n)
  cross join lateral latchkey.verify_api_key(
    pg_catalog.decode(c.item ->> 'hash', 'hex'), c.item -> 'request'
  ) as v
$$;
revoke all on function latchkey.verify_api_keys(jsonb) from public;
