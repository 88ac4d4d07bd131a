-- Per-key network limits (issue 31, item 5): a key may name the client networks (CIDR, IPv4 and
-- IPv6) and the browser origins it is used from. The key check refuses any other use with
-- NETWORK_NOT_ALLOWED inside its one statement, before the rate limit or a credit is taken (a
-- refused use spends nothing), and audits it as api_key.network_refused at most once per key and
-- minute. Empty lists (the default) limit nothing. Where the key is used from comes in the
-- check's request: `clientAddress` (the address the service saw, or the one a team's server
-- passes to POST /keys/verify) and `origin` (the Origin header, likewise). A limited key checked
-- without what its limit needs is refused: fail closed.
--
-- Redefines latchkey.check_api_key (its answer's shape unchanged, so that every migration can
-- run again: a NETWORK_NOT_ALLOWED row says why in its `metadata`, `{networkRefusal}`, where a
-- VALID row has the key's), latchkey.update_api_key (sets the lists; a key never changes its
-- own) and latchkey.rotate_api_key (the successor keeps them).

alter table latchkey.api_keys
  add column if not exists allowed_networks cidr[] not null default '{}',
  add column if not exists allowed_origins text[] not null default '{}',
  add column if not exists network_limited boolean not null default false;

-- Whether either list is set, kept by the database itself: the key check reads this flag, and
-- looks at the lists only for a key that has some (reading the arrays cost a key without limits
-- about 5 µs of the check's 80 µs of database CPU; the flag costs nothing measurable).
create or replace function latchkey.mark_network_limited()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.network_limited := pg_catalog.cardinality(new.allowed_networks) > 0
    or pg_catalog.cardinality(new.allowed_origins) > 0;
  return new;
end
$$;
revoke all on function latchkey.mark_network_limited() from public, latchkey_caller;
drop trigger if exists api_keys_mark_network_limited on latchkey.api_keys;
create trigger api_keys_mark_network_limited
  before insert or update of allowed_networks, allowed_origins, network_limited
  on latchkey.api_keys
  for each row execute function latchkey.mark_network_limited();

-- Origins as browsers send them: `scheme://host[:port]`, lower case, no path. The service stores
-- them so (default ports dropped); this is the database's own check of the shape.
create or replace function latchkey.are_web_origins(p_origins text[])
returns boolean
language sql
immutable
set search_path = ''
as $$
  select coalesce(pg_catalog.bool_and(
    o ~ '^[a-z][a-z0-9+.-]*://([a-z0-9_-]+(\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\])(:[0-9]{1,5})?$'
    and pg_catalog.length(o) <= 300
  ), true)
  from pg_catalog.unnest(p_origins) as o
$$;
revoke all on function latchkey.are_web_origins(text[]) from public;
-- The check runs as whoever writes the row: callers make keys.
grant execute on function latchkey.are_web_origins(text[]) to latchkey_caller;

-- NOT VALID: every existing row has empty lists; new and changed rows are checked.
do $$
begin
  if not exists (
    select 1 from pg_catalog.pg_constraint
    where conname = 'api_keys_allowed_networks_bounded'
      and conrelid = 'latchkey.api_keys'::pg_catalog.regclass
  ) then
    alter table latchkey.api_keys add constraint api_keys_allowed_networks_bounded check (
      pg_catalog.cardinality(allowed_networks) <= 64
      and pg_catalog.array_position(allowed_networks, null) is null
    ) not valid;
  end if;
  if not exists (
    select 1 from pg_catalog.pg_constraint
    where conname = 'api_keys_allowed_origins_are_origins'
      and conrelid = 'latchkey.api_keys'::pg_catalog.regclass
  ) then
    alter table latchkey.api_keys add constraint api_keys_allowed_origins_are_origins check (
      pg_catalog.cardinality(allowed_origins) <= 32
      and pg_catalog.array_position(allowed_origins, null) is null
      and latchkey.are_web_origins(allowed_origins)
    ) not valid;
  end if;
end
$$;

-- Owners and key writers set the lists when they make a key; every key reader reads them.
grant select (allowed_networks, allowed_origins), insert (allowed_networks, allowed_origins)
  on latchkey.api_keys to latchkey_caller;

-- An address as text, or null when it is none: the service sends only addresses it parsed, but
-- a bad one must refuse the key, not fail the statement.
create or replace function latchkey.inet_or_null(p_text text)
returns inet
language plpgsql
immutable
set search_path = ''
as $$
begin
  return p_text::inet;
exception when invalid_text_representation then
  return null;
end
$$;
revoke all on function latchkey.inet_or_null(text) from public, latchkey_caller;

-- Why a use of a key with network limits is refused, or null: the client's address must be in
-- one of the networks (when there are any) and the Origin one of the origins (likewise). A
-- limit whose input is missing refuses (address_missing, origin_missing): the service cannot
-- tell, so it does not let the key through.
create or replace function latchkey.key_network_refusal(
  p_networks cidr[],
  p_origins text[],
  p_request jsonb
)
returns text
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_address inet;
begin
  if pg_catalog.cardinality(p_networks) > 0 then
    if coalesce(p_request ->> 'clientAddress', '') = '' then
      return 'address_missing';
    end if;
    v_address := latchkey.inet_or_null(p_request ->> 'clientAddress');
    if v_address is null or not coalesce(v_address <<= any (p_networks::inet[]), false) then
      return 'address_not_allowed';
    end if;
  end if;
  if pg_catalog.cardinality(p_origins) > 0 then
    if coalesce(p_request ->> 'origin', '') = '' then
      return 'origin_missing';
    end if;
    if not (pg_catalog.lower(p_request ->> 'origin') = any (p_origins)) then
      return 'origin_not_allowed';
    end if;
  end if;
  return null;
end
$$;
revoke all on function latchkey.key_network_refusal(cidr[], text[], jsonb) from public, latchkey_caller;

-- As before, with the network limits checked once the key is known to be active: before the
-- account's or the meter's row is locked, so a refused use waits on no lock and takes nothing.
-- A key in a rotation's overlap answers to its successor's lists, as to its limit.
create or replace function latchkey.check_api_key(p_key_hash bytea, p_request jsonb)
returns table (
  code text,
  key_id uuid,
  user_id uuid,
  org_id uuid,
  scopes text[],
  org_key_permissions text[],
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
  -- An organization's key names it in its audit events (their actor has no user).
  v_org jsonb;
begin
  -- A key in a rotation's overlap answers to its successor's limit, enabled flag and credits:
  -- what an admin sets on the new key binds the old one too.
  select k.id, k.user_id, k.org_id, k.scopes,
    coalesce(s.rate_limit_per_minute, k.rate_limit_per_minute) as rate_limit_per_minute,
    k.expires_at, k.revoked_at,
    k.enabled and coalesce(s.enabled, true) as enabled, k.metadata,
    case when s.id is null then k.remaining else s.remaining end as remaining,
    coalesce(k.replaced_by, k.id) as limits_key,
    k.last_used_at, u.email, u.name, u.role, u.tier, u.created_at, u.banned_at,
    u.email_verified_at, u.credits is not null as metered_account,
    k.user_id is not null and exists (
      select 1 from latchkey.supabase_identities i where i.user_id = k.user_id
    ) as from_supabase_auth,
    o.suspended_at as org_suspended_at, o.key_permissions as org_key_permissions,
    -- Why a use from here is refused, or null; only a key with limits reads its lists, so a
    -- key without any pays one boolean here and nothing else.
    case when coalesce(s.network_limited, k.network_limited)
      then latchkey.key_network_refusal(coalesce(s.allowed_networks, k.allowed_networks),
        coalesce(s.allowed_origins, k.allowed_origins), p_request)
    end as network_refusal
  into v_key
  from latchkey.api_keys k
  left join latchkey.users u on u.id = k.user_id
  left join latchkey.organizations o on o.id = k.org_id
  left join latchkey.api_keys s on s.id = k.replaced_by
  where k.key_hash = p_key_hash;

  if not found then
    return query select 'NOT_FOUND'::text, null::uuid, null::uuid, null::uuid, null::text[],
      null::text[], null::integer, null::integer, null::timestamptz, null::integer, null::jsonb,
      null::text, null::text, null::text, null::text, null::timestamptz, null::timestamptz;
    return;
  end if;
  v_org := case when v_key.org_id is not null
    then pg_catalog.jsonb_build_object('orgId', v_key.org_id) else '{}' end;

  v_code := case
    when v_key.revoked_at is not null then 'REVOKED'
    when v_key.expires_at is not null and v_key.expires_at <= v_now then 'EXPIRED'
    when not v_key.enabled then 'DISABLED'
    when v_key.banned_at is not null then 'OWNER_BANNED'
    when v_key.org_suspended_at is not null then 'ORG_SUSPENDED'
  end;
  -- A Supabase Auth user banned there (banned_until ahead) is banned here too. Only for the
  -- owners Supabase Auth made (the inner statement is never planned where auth.users is absent).
  -- Nested: PL/pgSQL plans an IF's whole condition at once, and auth.users may not exist.
  if v_code is null and v_key.from_supabase_auth then
    if exists (
      select 1 from auth.users a where a.id = v_key.user_id and a.banned_until > v_now
    ) then
      v_code := 'OWNER_BANNED';
    end if;
  end if;

  -- Where the key may be used from: decided before anything is locked, metered or charged.
  if v_code is null and v_key.network_refusal is not null then
    v_code := 'NETWORK_NOT_ALLOWED';
  end if;

  -- Counters are cheap to lose and hot to write: do not wait for the WAL flush (an audit
  -- event below turns it back on), unless a check before this one in the transaction (a
  -- batch) wrote an audit event, whose commit must wait for it. Set before the hot row is
  -- locked, as everything else that can be: the lock is held until commit.
  if pg_catalog.current_setting('latchkey.audited', true) is distinct from 'on' then
    perform pg_catalog.set_config('synchronous_commit', 'off', true);
  end if;

  -- A metered account's row is locked before the key's meter: every check takes its locks in
  -- the order user, then key (check_api_keys sorts a batch the same way).
  if v_code is null and v_key.metered_account then
    perform 1 from latchkey.users u where u.id = v_key.user_id for update;
  end if;

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
        perform pg_catalog.set_config('latchkey.audited', 'on', true);
        perform latchkey.append_audit_event(
          'api_key', v_key.user_id, v_key.id, 'api_key.rate_limited', 'api_key', v_key.id,
          p_request, pg_catalog.jsonb_build_object(
            'limit', v_key.rate_limit_per_minute, 'repeatsInPreviousMinute', v_repeats
          ) || v_org
        );
      end if;
    elsif v_key.metered_account and not exists (
      select 1 from latchkey.users u where u.id = v_key.user_id and u.credits > 0
    ) then
      -- The account's budget is spent: the meter counted it valid; it is a refusal.
      v_code := 'USAGE_EXCEEDED';
      v_credits := 0;
      perform latchkey.count_key_outcome(v_key.id, v_now, -1, 0, 1);
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
    if v_key.metered_account then
      update latchkey.users u set credits = u.credits - 1 where u.id = v_key.user_id;
    end if;
    if v_key.last_used_at is null or v_key.last_used_at < v_now - interval '1 minute' then
      -- Rechecked under the row lock, so a burst at the minute's turn writes once.
      update latchkey.api_keys set last_used_at = v_now
      where id = v_key.id
        and (last_used_at is null or last_used_at < v_now - interval '1 minute');
    end if;
  elsif v_code = 'NETWORK_NOT_ALLOWED' then
    -- Its own action, so a webhook can follow uses from elsewhere (a leaked key, most likely).
    v_repeats := latchkey.first_in_minute('api_key.network_refused:' || v_key.id::text);
    if v_repeats is not null then
      perform pg_catalog.set_config('synchronous_commit', 'on', true);
      perform pg_catalog.set_config('latchkey.audited', 'on', true);
      perform latchkey.append_audit_event(
        'api_key', v_key.user_id, v_key.id, 'api_key.network_refused', 'api_key', v_key.id,
        p_request, pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
          'reason', v_key.network_refusal,
          'clientAddress', pg_catalog.left(p_request ->> 'clientAddress', 100),
          'origin', pg_catalog.left(p_request ->> 'origin', 300),
          'repeatsInPreviousMinute', v_repeats
        )) || v_org
      );
    end if;
  elsif v_code <> 'RATE_LIMITED' then
    v_repeats := latchkey.first_in_minute('api_key.rejected:' || v_key.id::text);
    if v_repeats is not null then
      perform pg_catalog.set_config('synchronous_commit', 'on', true);
      perform pg_catalog.set_config('latchkey.audited', 'on', true);
      perform latchkey.append_audit_event(
        'api_key', v_key.user_id, v_key.id, 'api_key.rejected', 'api_key', v_key.id, p_request,
        pg_catalog.jsonb_build_object('reason', v_code, 'repeatsInPreviousMinute', v_repeats)
          || v_org
      );
    end if;
  end if;

  return query select v_code, v_key.id, v_key.user_id, v_key.org_id, v_key.scopes,
    v_key.org_key_permissions, v_key.rate_limit_per_minute, v_left, v_tat,
    case when v_key.remaining is not null then coalesce(v_credits, v_key.remaining) end,
    case
      when v_code = 'VALID' then v_key.metadata
      when v_code = 'NETWORK_NOT_ALLOWED'
        then pg_catalog.jsonb_build_object('networkRefusal', v_key.network_refusal)
    end,
    v_key.email, v_key.name, v_key.role, v_key.tier, v_key.created_at, v_key.email_verified_at;
end
$$;
revoke all on function latchkey.check_api_key(bytea, jsonb) from public;

-- As before, and the network limits: set by whoever may change the key, except the key itself
-- (a key used from inside its networks must not be able to lift them): 'own_network_limits'.
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
  v_enabling boolean := (p_changes ->> 'enabled')::boolean;
begin
  select k.user_id, k.org_id, k.admin_disabled, k.admin_metadata into v_key
  from latchkey.api_keys k where k.id = p_id for update;
  if not found then
    return 'not_found';
  end if;
  v_owner := coalesce(
    (v_key.user_id = latchkey.current_user_id() and (
      latchkey.current_principal_kind() <> 'api_key' or p_id = latchkey.current_credential_id()
    ))
    or (v_key.org_id is not null
      and latchkey.caller_has_org_permission(v_key.org_id, 'keys:write')
      and not latchkey.org_is_suspended(v_key.org_id)),
    false
  );
  v_writer := coalesce(latchkey.caller_has_permission('keys:write')
    and latchkey.caller_reaches_user(v_key.user_id), false);
  if not (v_owner or v_writer)
    or (p_changes ?| array['remaining', 'refill', 'rateLimitPerMinute'] and not v_writer) then
    return 'forbidden';
  end if;
  if not v_writer and (
    (v_enabling and v_key.admin_disabled) or (p_changes ? 'metadata' and v_key.admin_metadata)
  ) then
    return 'admin_locked';
  end if;
  if p_changes ?| array['allowedNetworks', 'allowedOrigins']
    and latchkey.current_principal_kind() = 'api_key' and p_id = latchkey.current_credential_id()
  then
    return 'own_network_limits';
  end if;
  update latchkey.api_keys k set
    name = coalesce(p_changes ->> 'name', k.name),
    enabled = coalesce(v_enabling, k.enabled),
    admin_disabled = case
      when v_enabling is not null and v_writer then not v_enabling
      else k.admin_disabled
    end,
    metadata = coalesce(p_changes -> 'metadata', k.metadata),
    admin_metadata = k.admin_metadata or (v_writer and p_changes ? 'metadata'),
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
      then pg_catalog.now() else k.refilled_at end,
    allowed_networks = case when p_changes ? 'allowedNetworks'
      then array(
        select n::cidr
        from pg_catalog.jsonb_array_elements_text(p_changes -> 'allowedNetworks')
          with ordinality as l (n, i)
        order by l.i
      )
      else k.allowed_networks end,
    allowed_origins = case when p_changes ? 'allowedOrigins'
      then array(
        select o
        from pg_catalog.jsonb_array_elements_text(p_changes -> 'allowedOrigins')
          with ordinality as l (o, i)
        order by l.i
      )
      else k.allowed_origins end
  where k.id = p_id;
  return 'updated';
end
$$;
revoke all on function latchkey.update_api_key(uuid, jsonb) from public;
grant execute on function latchkey.update_api_key(uuid, jsonb) to latchkey_caller;

-- As before; the new key keeps the old one's network limits.
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
  if not coalesce(
    (v_old.user_id = latchkey.current_user_id() and latchkey.current_principal_kind() = 'session')
    or (v_old.org_id is not null
      and latchkey.caller_has_org_permission(v_old.org_id, 'keys:write')
      and not latchkey.org_is_suspended(v_old.org_id))
    or (latchkey.caller_has_permission('keys:write')
      and latchkey.caller_reaches_user(v_old.user_id)),
    false
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
    user_id, org_id, name, key_prefix, key_hash, scopes, key_type, rate_limit_per_minute,
    expires_at, enabled, metadata, remaining, refill_amount, refill_interval, refilled_at,
    created_by, allowed_networks, allowed_origins
  ) values (
    v_old.user_id, v_old.org_id, v_old.name, p_key_prefix, p_key_hash, v_old.scopes,
    v_old.key_type, v_old.rate_limit_per_minute, v_old.expires_at, v_old.enabled,
    v_old.metadata, v_old.remaining, v_old.refill_amount, v_old.refill_interval,
    v_old.refilled_at, latchkey.current_user_id(), v_old.allowed_networks, v_old.allowed_origins
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
grant execute on function latchkey.rotate_api_key(uuid, text, bytea, interval) to latchkey_caller;
