-- An audited check keeps its batch's commit durable. Each check turned synchronous_commit off
-- at its start (counters are cheap to lose) and on when it wrote an audit event; in a batch
-- (latchkey.verify_api_keys), a later check turned it off again, so a batch whose earlier
-- check was audited (a revoked key, a rate limit) committed without waiting for the WAL flush,
-- and a crash in that moment could lose the audit row. Now a check that audits marks the
-- transaction (latchkey.audited), and later checks leave synchronous_commit on.
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
  -- event below turns it back on), unless a check before this one in the transaction (a
  -- batch) wrote an audit event, whose commit must wait for it. Set before the hot row is
  -- locked, as everything else that can be: the lock is held until commit.
  if pg_catalog.current_setting('latchkey.audited', true) is distinct from 'on' then
    perform pg_catalog.set_config('synchronous_commit', 'off', true);
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
      perform pg_catalog.set_config('latchkey.audited', 'on', true);
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
