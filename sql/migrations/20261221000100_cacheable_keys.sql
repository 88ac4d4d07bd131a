-- Keys verified from a cache (issue 31, item 3). A key with no rate limit and no credits may be
-- marked cacheable: `cache_seconds` (1..300), or 0 to opt out of the deployment's default
-- (LATCHKEY_KEY_CACHE_SECONDS, null here), so a verifier (withLatchkey) may reuse a VALID answer
-- for that long instead of asking again. A cached answer passes the key check by, so every limit
-- the check enforces must be absent: the key's rate limit (now nullable: null is no limit, which
-- only staff set), its credits and its account's. What a key is answered now is decided in SQL
-- at every uncached check (latchkey.key_cache_seconds), so a limit or credits added later end
-- the caching at once; a key's stored setting is kept consistent by its constraint and by
-- update_api_key. Cached uses come back in batches through latchkey.record_cached_key_uses:
-- last use and usage history stay true, and nothing is charged.
--
-- Redefines latchkey.check_api_key (a key with no rate limit is counted, never limited; a key in
-- a rotation's overlap takes its successor's limit even when that is none),
-- latchkey.update_api_key (rateLimitPerMinute may be null; cacheSeconds; outcome
-- 'not_cacheable'), latchkey.rotate_api_key (the successor keeps the cache setting) and the
-- policy "Callers create keys within what they hold" (a self-service or organization's key always
-- has a rate limit), each from its current definition, network limits (20261220000100) kept.
-- A key with network limits is never cached: its answer depends on where it is used from.

alter table latchkey.api_keys alter column rate_limit_per_minute drop not null;
alter table latchkey.api_keys add column if not exists cache_seconds integer;

do $$
begin
  if not exists (
    select 1 from pg_catalog.pg_constraint where conname = 'api_keys_cache_seconds_range'
  ) then
    alter table latchkey.api_keys add constraint api_keys_cache_seconds_range
      check (cache_seconds between 0 and 300) not valid;
  end if;
  -- A cached answer would pass a rate limit or credits by: a key with either is never cached.
  if not exists (
    select 1 from pg_catalog.pg_constraint where conname = 'api_keys_cached_only_unlimited'
  ) then
    alter table latchkey.api_keys add constraint api_keys_cached_only_unlimited
      check (coalesce(cache_seconds, 0) = 0
        or (rate_limit_per_minute is null and remaining is null)) not valid;
  end if;
end
$$;

grant select (cache_seconds), insert (cache_seconds) on latchkey.api_keys to latchkey_caller;

-- Self-service and organizations' keys always have a rate limit (the route caps it by tier);
-- only a key writer (staff) makes or changes a key to have none.
drop policy if exists "Callers create keys within what they hold" on latchkey.api_keys;
create policy "Callers create keys within what they hold"
  on latchkey.api_keys for insert to latchkey_caller
  with check (
    latchkey.caller_holds_scopes(scopes) and (
      (org_id is null and user_id = (select latchkey.current_user_id()) and key_type = 'human'
        and remaining is null and refill_amount is null and rate_limit_per_minute is not null)
      or (org_id is null and (select latchkey.caller_has_permission('keys:write')) and (
        user_id = (select latchkey.current_user_id())
        or latchkey.caller_reaches_user(user_id)
        or (select latchkey.caller_has_permission('roles:write'))
      ))
      or (org_id is not null and user_id is null and key_type = 'human'
        and remaining is null and refill_amount is null and rate_limit_per_minute is not null
        and latchkey.caller_has_org_permission(org_id, 'keys:write')
        and not latchkey.org_is_suspended(org_id)
        and latchkey.org_key_ceiling_allows(org_id, scopes))
    )
  );

-- How long a verifier may reuse a VALID answer for this key, in whole seconds; null: not at
-- all. Only for a key with no rate limit and no credits (its successor's, in a rotation's
-- overlap, as the key check meters it) whose account has no credits (PATCH /admin/users/:id
-- {credits}, which every use draws on): the key's own setting, else the deployment's `p_default`
-- (0: off), never past the key's expiry. The key check's statement asks only about a VALID
-- answer that showed no rate limit and no credits, so other keys pay nothing for it.
create or replace function latchkey.key_cache_seconds(p_key_id uuid, p_default integer)
returns integer
language sql
stable
set search_path = ''
as $$
  select nullif(greatest(0, least(
    coalesce(k.cache_seconds, p_default),
    pg_catalog.floor(extract(epoch from (k.expires_at - pg_catalog.now())))
  )), 0)::integer
  from latchkey.api_keys k
  left join latchkey.api_keys s on s.id = k.replaced_by
  left join latchkey.users u on u.id = k.user_id
  where k.id = p_key_id and u.credits is null
    and case when s.id is null then k.rate_limit_per_minute else s.rate_limit_per_minute end
      is null
    and case when s.id is null then k.remaining else s.remaining end is null
    -- A key limited to networks or origins answers by where it is used from: never held.
    and not case when s.id is null then k.network_limited else s.network_limited end
$$;
-- Only the key check's statement asks (the schema's default would let latchkey_caller too).
revoke all on function latchkey.key_cache_seconds(uuid, integer) from public, latchkey_caller;

-- Uses of keys answered from a verifier's cache, reported in batches by the key holders
-- themselves (POST /keys/cached-uses): `[{hash, count, lastUsedAt}]`, hex SHA-256 of each key.
-- Each is counted as VALID on the key's meter, the current hour (the report comes at most a
-- few seconds after them), and moves its last use; nothing is charged, since a cached key has
-- neither a rate limit nor credits. Only such a key's uses count, and only until 10 minutes
-- after it was revoked or expired (the longest cache, 300 s, and the verifier's time to report):
-- a holder of a limited key, or of a key long dead, cannot write uses no check would have let
-- through into its history. Keys are taken in the order the key check's batches take them
-- (owner, then hash), so a report and a batch never deadlock. A count that would overflow the
-- hour's counter is cut short. Answers how many of the reported keys were recorded.
create or replace function latchkey.record_cached_key_uses(p_uses jsonb)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_use record;
  v_now timestamptz := pg_catalog.now();
  v_recorded integer := 0;
begin
  -- Counters, as in the key check: cheap to lose, not worth a wait for the WAL flush.
  perform pg_catalog.set_config('synchronous_commit', 'off', true);
  for v_use in
    select k.id, k.last_used_at,
      least(r.used_at, v_now) as used_at,
      least(r.uses, 2147483647 - coalesce(m.valid, 0)) as uses
    from (
      select pg_catalog.decode(u.item ->> 'hash', 'hex') as key_hash,
        sum((u.item ->> 'count')::bigint) as uses,
        max((u.item ->> 'lastUsedAt')::timestamptz) as used_at
      from pg_catalog.jsonb_array_elements(p_uses) as u (item)
      group by 1
    ) r
    join latchkey.api_keys k on k.key_hash = r.key_hash
    left join latchkey.api_key_meters m on m.key_id = k.id
    where k.rate_limit_per_minute is null and k.remaining is null
      and (k.revoked_at is null or k.revoked_at > v_now - interval '10 minutes')
      and (k.expires_at is null or k.expires_at > v_now - interval '10 minutes')
    order by k.user_id, r.key_hash
  loop
    v_recorded := v_recorded + 1;
    if v_use.uses > 0
      and latchkey.count_key_outcome(v_use.id, v_now, v_use.uses::integer, 0, 0) then
      perform latchkey.save_key_hour(v_use.id);
    end if;
    if v_use.last_used_at is null or v_use.last_used_at < v_use.used_at - interval '1 minute' then
      update latchkey.api_keys set last_used_at = v_use.used_at
      where id = v_use.id
        and (last_used_at is null or last_used_at < v_use.used_at - interval '1 minute');
    end if;
  end loop;
  return v_recorded;
end
$$;
-- Only POST /keys/cached-uses, as the schema's owner with the keys in hand: a caller's
-- transaction, which holds a hash at most, may not.
revoke all on function latchkey.record_cached_key_uses(jsonb) from public, latchkey_caller;

-- The hot path, as 20261211000100 made it, with keys that have no rate limit: counted on their
-- meter, never refused for a rate.
create or replace function latchkey.check_api_key(p_key_hash bytea, p_request jsonb)
returns table(code text, key_id uuid, user_id uuid, org_id uuid, scopes text[], org_key_permissions text[], rate_limit integer, rate_limit_remaining integer, reset_at timestamp with time zone, credits_remaining integer, metadata jsonb, user_email text, user_name text, user_role text, user_tier text, user_created_at timestamp with time zone, user_email_verified_at timestamp with time zone)
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
  -- what an admin sets on the new key binds the old one too (no limit on it: none on either).
  select k.id, k.user_id, k.org_id, k.scopes,
    case when s.id is null then k.rate_limit_per_minute else s.rate_limit_per_minute end
      as rate_limit_per_minute,
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
    -- A key with no rate limit (null) has a null interval: always allowed, its tat kept null,
    -- and still counted on its meter like any other.
    v_interval := interval '1 minute' / v_key.rate_limit_per_minute;
    v_capacity := v_interval * v_key.rate_limit_per_minute;
    -- A key in a rotation's overlap is metered on its successor's row and counted on its own.
    v_own := v_key.limits_key = v_key.id;
    insert into latchkey.api_key_meters as m (key_id, tat, allowed, hour, valid)
    values (v_key.limits_key, v_now + v_interval, true, v_hour, v_own::integer)
    on conflict (key_id) do update set
      allowed = v_interval is null or m.tat is null
        or greatest(m.tat, v_now) + v_interval - v_now <= v_capacity,
      tat = case
        when v_interval is null or m.tat is null
        or greatest(m.tat, v_now) + v_interval - v_now <= v_capacity
          then greatest(m.tat, v_now) + v_interval
        else m.tat
      end,
      hour = v_hour,
      valid = case when m.hour = v_hour then m.valid else 0 end + (v_own and (
        v_interval is null or m.tat is null
        or greatest(m.tat, v_now) + v_interval - v_now <= v_capacity
      ))::integer,
      rate_limited = case when m.hour = v_hour then m.rate_limited else 0 end + (v_own and not (
        v_interval is null or m.tat is null
        or greatest(m.tat, v_now) + v_interval - v_now <= v_capacity
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
    v_left := case when v_interval is null then null when v_allowed then greatest(0, floor(
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

-- As 20261211000100 made it, with rateLimitPerMinute null (no limit: a key writer's change) and
-- cacheSeconds (the owner's too).
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
  v_limited boolean;
begin
  select k.user_id, k.org_id, k.admin_disabled, k.admin_metadata, k.rate_limit_per_minute,
    k.remaining
  into v_key
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
  -- Whether the key has a rate limit or credits after this change: a cached answer would pass
  -- both by, so such a key is never cached. Setting a cache on one is refused; a limit or
  -- credits added to a cached key end its cache (the table's constraint holds either way).
  v_limited := case when p_changes ? 'rateLimitPerMinute'
      then p_changes ->> 'rateLimitPerMinute' is not null
      else v_key.rate_limit_per_minute is not null end
    or case when p_changes ? 'remaining'
      then p_changes ->> 'remaining' is not null
      else v_key.remaining is not null end;
  if v_limited and (p_changes ->> 'cacheSeconds')::integer > 0 then
    return 'not_cacheable';
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
    rate_limit_per_minute = case when p_changes ? 'rateLimitPerMinute'
      then (p_changes ->> 'rateLimitPerMinute')::integer else k.rate_limit_per_minute end,
    cache_seconds = case
      when p_changes ? 'cacheSeconds' then (p_changes ->> 'cacheSeconds')::integer
      when v_limited and k.cache_seconds > 0 then null
      else k.cache_seconds
    end,
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

-- As 20261211000100 made it; the successor keeps the key's cache setting, as its limits.
create or replace function latchkey.rotate_api_key(p_id uuid, p_key_prefix text, p_key_hash bytea, p_overlap interval, OUT outcome text, OUT new_key_id uuid)
returns record
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
    created_by, allowed_networks, allowed_origins, cache_seconds
  ) values (
    v_old.user_id, v_old.org_id, v_old.name, p_key_prefix, p_key_hash, v_old.scopes,
    v_old.key_type, v_old.rate_limit_per_minute, v_old.expires_at, v_old.enabled,
    v_old.metadata, v_old.remaining, v_old.refill_amount, v_old.refill_interval,
    v_old.refilled_at, latchkey.current_user_id(), v_old.allowed_networks, v_old.allowed_origins,
    v_old.cache_seconds
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
