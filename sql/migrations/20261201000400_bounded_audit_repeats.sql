-- Audit growth bounded: a flood of the same refusal (a revoked or expired key hammered, sign-ins
-- at an email that is throttled) wrote one row per request (measured: a 3-s flood with a
-- revoked key, 4,792 rows). Now the first refusal of each minute per key or email is audited,
-- carrying how many repeats the previous minute had; the repeats are only counted.

-- Counters, cheap to lose (a crash forgets at most which minute was already audited).
create unlogged table if not exists latchkey.audit_repeats (
  subject text primary key,
  window_start timestamptz not null,
  repeats integer not null
);
alter table latchkey.audit_repeats enable row level security;
alter table latchkey.audit_repeats force row level security;
revoke all on latchkey.audit_repeats from public, anon, authenticated, service_role;
drop policy if exists "Latchkey's own functions count audit repeats" on latchkey.audit_repeats;
create policy "Latchkey's own functions count audit repeats" on latchkey.audit_repeats
  to current_user using (true) with check (true);

-- Null when `p_subject` was already audited this minute (the repeat is counted); otherwise the
-- number of repeats of the minute it was last audited in (0 the first time), and the caller
-- audits it. One row per subject, updated in place.
create or replace function latchkey.first_in_minute(p_subject text)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_window timestamptz := pg_catalog.date_trunc('minute', pg_catalog.now());
  v_previous integer;
begin
  insert into latchkey.audit_repeats as r (subject, window_start, repeats)
  values (p_subject, v_window, 0)
  on conflict (subject) do update set repeats = r.repeats + 1
    where r.window_start = excluded.window_start
  returning case when r.repeats = 0 then 0 end into v_previous;
  if found then
    -- Inserted (0: audit it) or counted as a repeat of this minute (null: do not).
    return v_previous;
  end if;
  -- The row is from an earlier minute: this request opens the new one.
  with previous as (
    select r.repeats from latchkey.audit_repeats r
    where r.subject = p_subject and r.window_start < v_window
    for update
  )
  update latchkey.audit_repeats r set window_start = v_window, repeats = 0
  from previous where r.subject = p_subject
  returning previous.repeats into v_previous;
  if found then
    return v_previous;
  end if;
  -- Another request opened the minute between the two statements.
  update latchkey.audit_repeats r set repeats = r.repeats + 1 where r.subject = p_subject;
  return null;
end
$$;
revoke all on function latchkey.first_in_minute(text) from public;

-- The key check's refusal branch, now bounded; the rest of the hot path is unchanged.
create or replace function latchkey.authenticate_api_key(p_key_hash bytea, p_request jsonb)
returns table (
  code text,
  key_id uuid,
  user_id uuid,
  scopes text[],
  rate_limit integer,
  remaining integer,
  reset_at timestamptz,
  user_email text,
  user_name text,
  user_role text,
  user_tier text,
  user_created_at timestamptz
)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_key record;
  v_code text;
  v_window timestamptz := pg_catalog.date_trunc('minute', pg_catalog.now());
  v_count integer;
  v_repeats integer;
begin
  select k.id, k.user_id, k.scopes, k.rate_limit_per_minute, k.expires_at, k.revoked_at,
    k.last_used_at, u.email, u.name, u.role, u.tier, u.created_at, u.banned_at
  into v_key
  from latchkey.api_keys k
  join latchkey.users u on u.id = k.user_id
  where k.key_hash = p_key_hash;

  if not found then
    return query select 'NOT_FOUND'::text, null::uuid, null::uuid, null::text[], null::integer,
      null::integer, null::timestamptz, null::text, null::text, null::text, null::text,
      null::timestamptz;
    return;
  end if;

  v_code := case
    when v_key.revoked_at is not null then 'REVOKED'
    when v_key.expires_at is not null and v_key.expires_at <= pg_catalog.now() then 'EXPIRED'
    when v_key.banned_at is not null then 'OWNER_BANNED'
  end;
  if v_code is not null then
    v_repeats := latchkey.first_in_minute('api_key.rejected:' || v_key.id::text);
    if v_repeats is not null then
      perform latchkey.append_audit_event(
        'api_key', v_key.user_id, v_key.id, 'api_key.rejected', 'api_key', v_key.id, p_request,
        pg_catalog.jsonb_build_object('reason', v_code, 'repeatsInPreviousMinute', v_repeats)
      );
    end if;
    return query select v_code, v_key.id, v_key.user_id, v_key.scopes,
      v_key.rate_limit_per_minute, null::integer, null::timestamptz, v_key.email, v_key.name,
      v_key.role, v_key.tier, v_key.created_at;
    return;
  end if;

  -- Counters are cheap to lose and hot to write: do not wait for the WAL flush.
  perform pg_catalog.set_config('synchronous_commit', 'off', true);

  insert into latchkey.rate_limit_windows as w (key_id, window_start, request_count)
  values (v_key.id, v_window, 1)
  on conflict (key_id) do update set
    window_start = excluded.window_start,
    request_count = case
      when w.window_start = excluded.window_start then w.request_count + 1
      else 1
    end
  returning w.request_count into v_count;

  if v_count > v_key.rate_limit_per_minute then
    v_code := 'RATE_LIMITED';
    -- Only the first refusal of a window is audited, so a flood writes one row a minute.
    if v_count = v_key.rate_limit_per_minute + 1 then
      perform latchkey.append_audit_event(
        'api_key', v_key.user_id, v_key.id, 'api_key.rate_limited', 'api_key', v_key.id,
        p_request, pg_catalog.jsonb_build_object('limit', v_key.rate_limit_per_minute)
      );
    end if;
  else
    v_code := 'VALID';
    if v_key.last_used_at is null or v_key.last_used_at < pg_catalog.now() - interval '1 minute' then
      -- Rechecked under the row lock, so a burst at the minute's turn writes once.
      update latchkey.api_keys set last_used_at = pg_catalog.now()
      where id = v_key.id
        and (last_used_at is null or last_used_at < pg_catalog.now() - interval '1 minute');
    end if;
  end if;

  return query select v_code, v_key.id, v_key.user_id, v_key.scopes, v_key.rate_limit_per_minute,
    greatest(v_key.rate_limit_per_minute - v_count, 0), v_window + interval '1 minute',
    v_key.email, v_key.name, v_key.role, v_key.tier, v_key.created_at;
end
$$;
revoke all on function latchkey.authenticate_api_key(bytea, jsonb) from public;

-- Sign-ins refused because the email is throttled: the first of each minute per email is
-- audited (with the previous minute's repeats); wrong passwords stay audited one by one, and
-- the throttle bounds them.
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
  v_repeats integer := 0;
begin
  -- Prune this email's old failures as we go, so the table stays small without a cron job.
  delete from latchkey.sign_in_failures
  where email_hash = v_email_hash and failed_at < now() - interval '1 day';

  if p_reason <> 'throttled' then
    insert into latchkey.sign_in_failures (email_hash) values (v_email_hash);
  else
    v_repeats := latchkey.first_in_minute(
      'auth.sign_in_throttled:' || pg_catalog.encode(v_email_hash, 'hex')
    );
    if v_repeats is null then
      return;
    end if;
  end if;

  perform latchkey.append_audit_event(
    'anonymous', null, null, 'auth.sign_in_failed', 'user', p_user_id, p_request,
    pg_catalog.jsonb_build_object('reason', p_reason) || case
      when p_reason = 'throttled'
        then pg_catalog.jsonb_build_object('repeatsInPreviousMinute', v_repeats)
      else '{}'::jsonb
    end
  );
end
$$;
revoke all on function latchkey.record_failed_sign_in(text, uuid, text, jsonb) from public;
