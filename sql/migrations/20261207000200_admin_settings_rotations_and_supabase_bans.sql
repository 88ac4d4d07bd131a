-- The second attacker's review (issue 25), keys.
--
-- What an admin set, the owner cannot undo (item 9): a key an admin disabled stays disabled
-- until an admin enables it, and metadata an admin set is the admin's from then on (an owner's
-- PATCH of either answers 403). A rotation carries both to the new key.
--
-- A rotated-away key answers to its successor (item 18): during the overlap it is metered on
-- the successor's row already; now also against the successor's current limit, enabled flag
-- and credits, so lowering the new key's limit binds the old one too.
--
-- A Supabase ban reaches Latchkey (item 10): a Supabase Auth user whose auth.users.banned_until
-- lies ahead is refused as a session and their keys verify OWNER_BANNED; an email changed in
-- Supabase Auth is followed by the Latchkey user (and so by sessions and tokens).
--
-- Credits per account, beside credits per key (item 19): `users.credits`, set by an admin,
-- is a budget every key of the account draws on (each VALID verification takes one from it
-- and from the key's own credits, if the key has them); null, the default, is no account
-- budget. So an account an admin meters cannot escape by minting a key of its own. The user's
-- row is locked before the key's meter, and batches go user by user, so locks keep one order.
--
-- A stranger cannot spend an address's reset mails (item 14): the per-address budget counts
-- per (address, client), under a ceiling across clients ten times as high.

alter table latchkey.api_keys
  add column if not exists admin_disabled boolean not null default false,
  add column if not exists admin_metadata boolean not null default false;

alter table latchkey.users
  add column if not exists credits integer check (credits >= 0);
grant select (credits), update (credits) on latchkey.users to latchkey_caller;

-- A key's name, enabled flag and metadata, by its owner (an API key only itself) or a key
-- writer who reaches the owner; credits and refill and rate limit by a key writer only.
-- Returns 'updated', 'not_found', 'forbidden', or 'admin_locked' (the owner tried to enable a
-- key an admin disabled, or to change metadata an admin set).
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
  select k.user_id, k.admin_disabled, k.admin_metadata into v_key
  from latchkey.api_keys k where k.id = p_id for update;
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
  if not v_writer and (
    (v_enabling and v_key.admin_disabled) or (p_changes ? 'metadata' and v_key.admin_metadata)
  ) then
    return 'admin_locked';
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
      then pg_catalog.now() else k.refilled_at end
  where k.id = p_id;
  return 'updated';
end
$$;

-- A rotation hands what an admin set to the new key (rotate_api_key copies the rest).
create or replace function latchkey.carry_admin_settings()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update latchkey.api_keys k set
    admin_disabled = k.admin_disabled or new.admin_disabled,
    admin_metadata = k.admin_metadata or new.admin_metadata
  where k.id = new.replaced_by;
  return null;
end
$$;
revoke all on function latchkey.carry_admin_settings() from public;
drop trigger if exists api_keys_carry_admin_settings on latchkey.api_keys;
create trigger api_keys_carry_admin_settings
  after update of replaced_by on latchkey.api_keys
  for each row
  when (new.replaced_by is not null and new.replaced_by is distinct from old.replaced_by)
  execute function latchkey.carry_admin_settings();

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
  -- A key in a rotation's overlap answers to its successor's limit, enabled flag and credits:
  -- what an admin sets on the new key binds the old one too.
  select k.id, k.user_id, k.scopes, coalesce(s.rate_limit_per_minute, k.rate_limit_per_minute)
      as rate_limit_per_minute, k.expires_at, k.revoked_at,
    k.enabled and coalesce(s.enabled, true) as enabled, k.metadata,
    case when s.id is null then k.remaining else s.remaining end as remaining,
    coalesce(k.replaced_by, k.id) as limits_key,
    k.last_used_at, u.email, u.name, u.role, u.tier, u.created_at, u.banned_at,
    u.email_verified_at, u.credits is not null as metered_account,
    exists (select 1 from latchkey.supabase_identities i where i.user_id = k.user_id)
      as from_supabase_auth
  into v_key
  from latchkey.api_keys k
  join latchkey.users u on u.id = k.user_id
  left join latchkey.api_keys s on s.id = k.replaced_by
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

  -- Counters are cheap to lose and hot to write: do not wait for the WAL flush (an audit
  -- event below turns it back on), unless a check before this one in the transaction (a
  -- batch) wrote an audit event, whose commit must wait for it. Set before the hot row is
  -- locked, as everything else that can be: the lock is held until commit.
  if pg_catalog.current_setting('latchkey.audited', true) is distinct from 'on' then
    perform pg_catalog.set_config('synchronous_commit', 'off', true);
  end if;

  -- A metered account's row is locked before the key's meter: every check takes its locks in
  -- the order user, then key (verify_api_keys sorts a batch the same way).
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
          )
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

-- A Supabase Auth token's user as a session: refused while banned there (banned_until ahead);
-- an email changed in Supabase Auth is followed (unless another account holds it: never
-- merged), audited as user.email_followed_supabase_auth.
create or replace function latchkey.authenticate_supabase_user(
  p_user_id uuid,
  p_bootstrap_email text,
  p_request jsonb
)
returns table (
  id uuid, email text, name text, role text, tier text, created_at timestamptz,
  is_anonymous boolean
)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_auth record;
  v_found integer;
  v_user latchkey.users;
begin
  -- Dynamic, so the function exists (and migrations pass) where auth.users does not.
  execute 'select u.email, u.email_confirmed_at, u.deleted_at, u.raw_user_meta_data, '
    || 'coalesce(u.is_anonymous, false) as is_anonymous, u.banned_until '
    || 'from auth.users u where u.id = $1'
    into v_auth using p_user_id;
  -- EXECUTE leaves FOUND alone; the row count says whether the auth user exists.
  get diagnostics v_found = row_count;
  if v_found = 0 or v_auth.deleted_at is not null or v_auth.banned_until > pg_catalog.now() then
    return;
  end if;

  select * into v_user from latchkey.users u where u.id = p_user_id;
  if not found then
    insert into latchkey.users (id, email, name, password_hash)
    values (
      p_user_id,
      coalesce(v_auth.email, p_user_id::text || '@anonymous.supabase.invalid'),
      left(coalesce(
        nullif(v_auth.raw_user_meta_data ->> 'full_name', ''),
        nullif(v_auth.raw_user_meta_data ->> 'name', ''),
        nullif(split_part(v_auth.email, '@', 1), ''),
        'Anonymous'
      ), 200),
      null
    )
    on conflict do nothing;
    select * into v_user from latchkey.users u where u.id = p_user_id;
    if not found then
      -- The email belongs to an account of Latchkey's own: never merged silently.
      return;
    end if;
    insert into latchkey.supabase_identities (user_id) values (p_user_id) on conflict do nothing;
    if found then
      perform latchkey.append_audit_event(
        'session', p_user_id, null, 'user.created_from_supabase_auth', 'user', p_user_id,
        p_request, pg_catalog.jsonb_build_object('email', v_user.email)
      );
    end if;
  elsif v_auth.email is not null and lower(v_auth.email) <> lower(v_user.email)
    and not exists (
      select 1 from latchkey.users o where lower(o.email) = lower(v_auth.email) and o.id <> p_user_id
    )
  then
    update latchkey.users u set email = v_auth.email, updated_at = pg_catalog.now()
    where u.id = p_user_id
    returning * into v_user;
    perform latchkey.append_audit_event(
      'session', p_user_id, null, 'user.email_followed_supabase_auth', 'user', p_user_id,
      p_request, pg_catalog.jsonb_build_object('email', v_user.email)
    );
  end if;

  if p_bootstrap_email is not null
    and lower(v_auth.email) = lower(p_bootstrap_email)
    and v_auth.email_confirmed_at is not null
    and not v_user.created_by_bootstrap
  then
    update latchkey.users u set role = 'admin', created_by_bootstrap = true, updated_at = now()
    where u.id = p_user_id and not u.created_by_bootstrap
    returning * into v_user;
    if found then
      perform latchkey.append_audit_event(
        'system', null, null, 'bootstrap.admin_promoted', 'user', p_user_id, p_request,
        pg_catalog.jsonb_build_object('email', v_user.email, 'confirmedAt', v_auth.email_confirmed_at)
      );
    else
      select * into v_user from latchkey.users u where u.id = p_user_id;
    end if;
  end if;

  if v_user.banned_at is not null then
    return;
  end if;
  return query select v_user.id, v_user.email, v_user.name, v_user.role, v_user.tier,
    v_user.created_at, v_auth.is_anonymous;
end
$$;

create or replace function latchkey.request_password_reset(
  p_email text,
  p_token_hash bytea,
  p_ttl interval,
  p_subject text,
  p_text text,
  p_html text,
  p_client text,
  p_client_limit integer,
  p_email_limit integer,
  p_request jsonb,
  out retry_after integer,
  out queued boolean
)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user record;
  v_email_throttled boolean;
begin
  queued := false;
  retry_after := latchkey.take_client_allowance('recovery_client', p_client, p_client_limit,
    interval '1 hour');
  if retry_after > 0 then
    return;
  end if;
  -- The address's budget is per client, so a stranger's requests cannot spend the owner's;
  -- across clients a ceiling ten times as high keeps the address from being flooded.
  v_email_throttled := latchkey.take_client_allowance('reset_email_client',
    lower(p_email) || ' ' || coalesce(p_client, 'unknown'), p_email_limit, interval '1 hour') > 0
    or latchkey.take_client_allowance('reset_email', lower(p_email), p_email_limit * 10,
      interval '1 hour') > 0;

  select u.id, u.email into v_user
  from latchkey.users u
  where lower(u.email) = lower(p_email) and u.password_hash is not null and u.banned_at is null;
  if found and not v_email_throttled then
    update latchkey.account_tokens set used_at = pg_catalog.now()
    where user_id = v_user.id and purpose = 'password_reset' and used_at is null;
    insert into latchkey.account_tokens (token_hash, user_id, purpose, email, expires_at)
    values (p_token_hash, v_user.id, 'password_reset', v_user.email, pg_catalog.now() + p_ttl);
    insert into latchkey.mail_outbox (kind, recipient, subject, text_body, html_body)
    values ('password_reset', v_user.email, p_subject, p_text, p_html);
    queued := true;
  end if;
  -- Every request is audited, known email or not: the same durable write (and commit flush)
  -- either way, so the timing does not tell them apart.
  perform latchkey.append_audit_event(
    'anonymous', null, null, 'auth.password_reset_requested', 'user', v_user.id, p_request,
    pg_catalog.jsonb_build_object('mailed', queued)
  );
end
$$;

-- Batches of key checks lock in one order: each check's owner (a metered account's row is
-- locked first), then the key's hash; a key's own checks keep their arrival order.
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
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_check record;
begin
  for v_check in
    select c.n, c.item
    from pg_catalog.jsonb_array_elements(p_checks) with ordinality as c (item, n)
    left join latchkey.api_keys k
      on k.key_hash = pg_catalog.decode(c.item ->> 'hash', 'hex')
    order by k.user_id, c.item ->> 'hash' collate "C", c.n
  loop
    return query
      select v_check.n, v.*
      from latchkey.verify_api_key(
        pg_catalog.decode(v_check.item ->> 'hash', 'hex'), v_check.item -> 'request'
      ) as v;
  end loop;
end
$$;
revoke all on function latchkey.verify_api_keys(jsonb) from public;
