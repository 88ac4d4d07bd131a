-- API keys, their per-minute rate-limit windows, and the one-round-trip authentication.

create table if not exists latchkey.api_keys (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references latchkey.users (id) on delete cascade,
  name text not null check (length(name) between 1 and 200),
  -- The first 12 characters of the key: enough to recognise it in a list, useless to an attacker.
  key_prefix text not null check (length(key_prefix) = 12),
  -- SHA-256 of the whole key. A 256-bit random secret needs no slow hash, and the hot path
  -- stays one indexed lookup.
  key_hash bytea not null unique check (length(key_hash) = 32),
  scopes text[] not null default '{compile}'
    check (array_position(scopes, null) is null and cardinality(scopes) <= 64),
  key_type text not null default 'human' check (key_type in ('human', 'ci', 'integration')),
  rate_limit_per_minute integer not null default 60 check (rate_limit_per_minute between 1 and 1000000),
  expires_at timestamptz,
  last_used_at timestamptz,
  revoked_at timestamptz,
  created_by uuid default latchkey.current_user_id(),
  created_at timestamptz not null default now()
);
create index if not exists api_keys_user_id_created_at_idx
  on latchkey.api_keys (user_id, created_at, id);
create index if not exists api_keys_created_at_id_idx on latchkey.api_keys (created_at, id);

alter table latchkey.api_keys enable row level security;
alter table latchkey.api_keys force row level security;
revoke all on latchkey.api_keys from public, anon, authenticated, service_role;
grant select (
  id, user_id, name, key_prefix, scopes, key_type, rate_limit_per_minute, expires_at,
  last_used_at, revoked_at, created_by, created_at
) on latchkey.api_keys to authenticated;
-- key_type and created_by are not insertable: self-service keys are `human` and made by the
-- caller, whatever the request says. The hash can be written, never read back.
grant insert (user_id, name, key_prefix, key_hash, scopes, rate_limit_per_minute, expires_at)
  on latchkey.api_keys to authenticated;
grant update (revoked_at) on latchkey.api_keys to authenticated;

drop policy if exists "Latchkey's own functions manage API keys" on latchkey.api_keys;
create policy "Latchkey's own functions manage API keys" on latchkey.api_keys
  to current_user using (true) with check (true);
drop policy if exists "Owners can read their own keys" on latchkey.api_keys;
create policy "Owners can read their own keys" on latchkey.api_keys
  for select to authenticated using (user_id = (select latchkey.current_user_id()));
drop policy if exists "Support and admins can read every key" on latchkey.api_keys;
create policy "Support and admins can read every key" on latchkey.api_keys
  for select to authenticated using ((select latchkey.caller_has_role('support', 'admin')));
drop policy if exists "Owners can create their own keys" on latchkey.api_keys;
create policy "Owners can create their own keys" on latchkey.api_keys
  for insert to authenticated with check (user_id = (select latchkey.current_user_id()));
drop policy if exists "Admins can create keys for anyone" on latchkey.api_keys;
create policy "Admins can create keys for anyone" on latchkey.api_keys
  for insert to authenticated with check ((select latchkey.caller_has_role('admin')));
drop policy if exists "Owners can revoke their own keys" on latchkey.api_keys;
create policy "Owners can revoke their own keys" on latchkey.api_keys
  for update to authenticated
  using (user_id = (select latchkey.current_user_id()))
  with check (user_id = (select latchkey.current_user_id()));
drop policy if exists "Support and admins can revoke any key" on latchkey.api_keys;
create policy "Support and admins can revoke any key" on latchkey.api_keys
  for update to authenticated
  using ((select latchkey.caller_has_role('support', 'admin')))
  with check ((select latchkey.caller_has_role('support', 'admin')));

-- One row per key: the current fixed one-minute window and its count. UNLOGGED: a crash
-- forgets at most a minute of counts, and the hot path writes no WAL for it.
create unlogged table if not exists latchkey.rate_limit_windows (
  key_id uuid primary key references latchkey.api_keys (id) on delete cascade,
  window_start timestamptz not null,
  request_count integer not null
);
alter table latchkey.rate_limit_windows enable row level security;
alter table latchkey.rate_limit_windows force row level security;
revoke all on latchkey.rate_limit_windows from public, anon, authenticated, service_role;
drop policy if exists "Latchkey's own functions count requests" on latchkey.rate_limit_windows;
create policy "Latchkey's own functions count requests" on latchkey.rate_limit_windows
  to current_user using (true) with check (true);

-- The hot path, in one call: find the key by hash; refuse it when revoked, expired or its
-- owner is banned; count the request in the key's window (exact under concurrency: the
-- upsert serialises on the window's row); touch last_used_at at most once a minute; return
-- the principal and the rate-limit state. PL/pgSQL, so its plans are cached per connection.
-- Codes: VALID, NOT_FOUND, REVOKED, EXPIRED, OWNER_BANNED, RATE_LIMITED.
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
    perform latchkey.append_audit_event(
      'api_key', v_key.user_id, v_key.id, 'api_key.rejected', 'api_key', v_key.id, p_request,
      pg_catalog.jsonb_build_object('reason', v_code)
    );
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
