-- Organization-owned API keys (issue 29, item 2). A key has one owner: a user (user_id) or an
-- organization (org_id), never both. An organization's key belongs to no person: its creator is
-- only `created_by`, set to null when that account goes, so the key outlives the creator's
-- membership and account. Members whose organization role holds the new organization permission
-- keys:write create, change, rotate and revoke the organization's keys, keys:read (or keys:write)
-- reads them and their usage; the policies decide from the caller's membership, as everywhere in
-- the organization.
--
-- What an organization's keys may hold (its ceiling) is `organizations.key_permissions`: null,
-- the default, means what the platform role `user` may put on keys of its own (the application
-- scopes outside the permission catalogue, and the catalogue's permissions that role holds);
-- platform staff with orgs:write set a list, only of what they hold themselves. A key's scopes
-- are checked against the ceiling when it is made, and intersected with it on every check, so a
-- narrower ceiling binds at once. A suspended organization's keys answer ORG_SUSPENDED, audited
-- once a minute per key as a banned owner's keys are, and work again when it is unsuspended.
--
-- The key check returns the key's organization and ceiling, so its return type changes. The old
-- migrations create verify_api_key(bytea, jsonb) and verify_api_keys(jsonb) with the old type
-- when they run again, which CREATE OR REPLACE cannot turn into the new one: the check is
-- therefore check_api_key / check_api_keys from here on, and the old functions are dropped.

insert into latchkey.org_permissions (name, description) values
  ('keys:read', 'See the organization''s API keys and their usage'),
  ('keys:write', 'Create, change, rotate and revoke the organization''s API keys')
on conflict (name) do update set description = excluded.description;
insert into latchkey.org_role_permissions (role, permission) values
  ('owner', 'keys:read'), ('owner', 'keys:write'), ('admin', 'keys:read'), ('admin', 'keys:write')
on conflict do nothing;

alter table latchkey.organizations add column if not exists key_permissions text[]
  constraint organizations_key_permissions_check
  check (array_position(key_permissions, null) is null and cardinality(key_permissions) <= 64);
-- Read by whoever reads the organization; written only by set_org_key_permissions.
grant select (key_permissions) on latchkey.organizations to latchkey_caller;

alter table latchkey.api_keys alter column user_id drop not null;
alter table latchkey.api_keys add column if not exists org_id uuid
  references latchkey.organizations (id) on delete cascade;
-- NOT VALID: only new rows are checked (every existing one has its user).
alter table latchkey.api_keys drop constraint if exists api_keys_one_owner;
alter table latchkey.api_keys add constraint api_keys_one_owner
  check ((user_id is null) <> (org_id is null)) not valid;
-- A key does not hold on to its creator's account: deleting the account clears created_by (NOT
-- VALID: the id of a creator deleted before this migration is left as it was).
alter table latchkey.api_keys drop constraint if exists api_keys_created_by_fkey;
alter table latchkey.api_keys add constraint api_keys_created_by_fkey
  foreign key (created_by) references latchkey.users (id) on delete set null not valid;
create index if not exists api_keys_created_by_idx on latchkey.api_keys (created_by);
-- An organization's keys, newest first (its list, /admin/keys?orgId=, the foreign key).
create index if not exists api_keys_org_id_created_at_idx
  on latchkey.api_keys (org_id, created_at, id) where org_id is not null;
grant select (org_id), insert (org_id) on latchkey.api_keys to latchkey_caller;

-- Whether an organization lets its keys hold every one of these scopes (its ceiling).
create or replace function latchkey.org_key_ceiling_allows(p_org_id uuid, p_scopes text[])
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select case
    when o.key_permissions is not null then p_scopes <@ o.key_permissions
    else not exists (
      select from latchkey.permissions p
      where p.name = any (p_scopes) and not latchkey.role_has_permission('user', p.name)
    )
  end
  from latchkey.organizations o where o.id = p_org_id
$$;
revoke all on function latchkey.org_key_ceiling_allows(uuid, text[]) from public;
grant execute on function latchkey.org_key_ceiling_allows(uuid, text[]) to latchkey_caller;

-- Who reads an organization's keys: its members holding keys:read or keys:write.
create or replace function latchkey.caller_reads_org_keys(p_org_id uuid)
returns boolean
language sql
stable
set search_path = ''
as $$
  select latchkey.caller_has_org_permission(p_org_id, 'keys:read')
    or latchkey.caller_has_org_permission(p_org_id, 'keys:write')
$$;
revoke all on function latchkey.caller_reads_org_keys(uuid) from public;
grant execute on function latchkey.caller_reads_org_keys(uuid) to latchkey_caller;

-- The ceiling, by platform staff with orgs:write, and only of what they hold themselves (the
-- reach rule: nobody lets an organization grant what they could not). Null: the default again.
-- False when there is no such organization.
create or replace function latchkey.set_org_key_permissions(p_org_id uuid, p_permissions text[])
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  if not latchkey.caller_has_permission('orgs:write') then
    raise exception 'setting what an organization''s keys may hold needs orgs:write'
      using errcode = '42501';
  end if;
  if not latchkey.caller_holds_scopes(coalesce(p_permissions, '{}')) then
    raise exception 'nobody lets an organization''s keys hold a permission they lack'
      using errcode = '42501';
  end if;
  update latchkey.organizations o set key_permissions = p_permissions, updated_at = pg_catalog.now()
  where o.id = p_org_id;
  return found;
end
$$;
revoke all on function latchkey.set_org_key_permissions(uuid, text[]) from public;
grant execute on function latchkey.set_org_key_permissions(uuid, text[]) to latchkey_caller;

-- Reading: owners their keys, an organization's key readers its keys, key readers every key.
drop policy if exists "Owners read their own keys, key readers and writers every one"
  on latchkey.api_keys;
drop policy if exists "Owners, org key readers and platform key readers read keys"
  on latchkey.api_keys;
create policy "Owners, org key readers and platform key readers read keys"
  on latchkey.api_keys for select to latchkey_caller
  using (
    user_id = (select latchkey.current_user_id())
    or (select latchkey.caller_has_permission('keys:read'))
    or (select latchkey.caller_has_permission('keys:write'))
    or (org_id is not null and latchkey.caller_reads_org_keys(org_id))
  );

-- Creating: a user for themselves, a key writer for a user within reach, and an organization's
-- key writer for the active organization, within its ceiling; each only scopes they hold.
drop policy if exists "Callers create keys within what they hold" on latchkey.api_keys;
create policy "Callers create keys within what they hold"
  on latchkey.api_keys for insert to latchkey_caller
  with check (
    latchkey.caller_holds_scopes(scopes) and (
      (org_id is null and user_id = (select latchkey.current_user_id()) and key_type = 'human'
        and remaining is null and refill_amount is null)
      or (org_id is null and (select latchkey.caller_has_permission('keys:write')) and (
        user_id = (select latchkey.current_user_id())
        or latchkey.caller_reaches_user(user_id)
        or (select latchkey.caller_has_permission('roles:write'))
      ))
      or (org_id is not null and user_id is null and key_type = 'human'
        and remaining is null and refill_amount is null
        and latchkey.caller_has_org_permission(org_id, 'keys:write')
        and not latchkey.org_is_suspended(org_id)
        and latchkey.org_key_ceiling_allows(org_id, scopes))
    )
  );

-- Revoking: owners (an API key only itself), an organization's key writers (a suspended
-- organization's too: revoking only takes power away), key revokers within reach (an
-- organization's key has no user above anyone: caller_reaches_user answers for role user).
drop policy if exists "Owners revoke their own keys, key revokers those they reach"
  on latchkey.api_keys;
drop policy if exists "Owners, org key writers and key revokers within reach revoke"
  on latchkey.api_keys;
create policy "Owners, org key writers and key revokers within reach revoke"
  on latchkey.api_keys for update to latchkey_caller
  using (
    (user_id = (select latchkey.current_user_id())
      and ((select latchkey.current_principal_kind()) <> 'api_key'
        or id = (select latchkey.current_credential_id())))
    or (org_id is not null and latchkey.caller_has_org_permission(org_id, 'keys:write'))
    or ((select latchkey.caller_has_permission('keys:revoke'))
      and latchkey.caller_reaches_user(user_id))
  )
  with check (
    revoked_at is not null and (
      (user_id = (select latchkey.current_user_id())
        and ((select latchkey.current_principal_kind()) <> 'api_key'
          or id = (select latchkey.current_credential_id())))
      or (org_id is not null and latchkey.caller_has_org_permission(org_id, 'keys:write'))
      or ((select latchkey.caller_has_permission('keys:revoke'))
        and latchkey.caller_reaches_user(user_id))
    )
  );

-- A rotation by the owner's session, an organization's key writer while it is active, or a key
-- writer within reach. Comparisons with a null user (an organization's key) are false, never
-- null: a null would not refuse.
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
    created_by
  ) values (
    v_old.user_id, v_old.org_id, v_old.name, p_key_prefix, p_key_hash, v_old.scopes,
    v_old.key_type, v_old.rate_limit_per_minute, v_old.expires_at, v_old.enabled,
    v_old.metadata, v_old.remaining, v_old.refill_amount, v_old.refill_interval,
    v_old.refilled_at, latchkey.current_user_id()
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

-- A key's name, enabled flag and metadata, by its owner (an API key only itself), an active
-- organization's key writer for its keys, or a key writer who reaches the owner; credits and
-- refill and rate limit by a key writer only. Returns 'updated', 'not_found', 'forbidden', or
-- 'admin_locked' (the owner tried to enable a key an admin disabled, or to change metadata an
-- admin set).
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
revoke all on function latchkey.update_api_key(uuid, jsonb) from public;
grant execute on function latchkey.update_api_key(uuid, jsonb) to latchkey_caller;

-- A leaked key's report names its organization too.
create or replace function latchkey.revoke_leaked_key(
  p_key_hash bytea,
  p_client text,
  p_limit integer,
  p_window interval,
  p_request jsonb
)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_retry_after integer;
  v_key record;
begin
  -- Checked before this report counts: `p_limit` reports pass, the next waits.
  v_retry_after := latchkey.take_client_allowance('leaked_key', p_client, p_limit, p_window);
  if v_retry_after > 0 then
    return v_retry_after;
  end if;
  update latchkey.api_keys k set revoked_at = pg_catalog.now()
  where k.key_hash = p_key_hash and k.revoked_at is null
  returning k.id, k.user_id, k.org_id into v_key;
  if found then
    perform latchkey.append_audit_event(
      'anonymous', null, null, 'api_key.revoked_as_leaked', 'api_key', v_key.id, p_request,
      pg_catalog.jsonb_build_object('ownerId', v_key.user_id, 'client', p_client)
        || case when v_key.org_id is not null
          then pg_catalog.jsonb_build_object('orgId', v_key.org_id) else '{}' end
    );
  end if;
  return 0;
end
$$;
revoke all on function latchkey.revoke_leaked_key(bytea, text, integer, interval, jsonb)
  from public;

drop function if exists latchkey.verify_api_keys(jsonb);
drop function if exists latchkey.verify_api_key(bytea, jsonb);

-- The hot path, as verify_api_key was, for a key of either owner: an organization's key joins
-- its organization (one primary-key lookup, which a user's key skips, as an organization's key
-- skips its missing user's) for the suspension and the ceiling; the caller intersects the
-- key's scopes with the ceiling (null: the platform role user's, as for a user's key by role).
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
    o.suspended_at as org_suspended_at, o.key_permissions as org_key_permissions
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
    case when v_code = 'VALID' then v_key.metadata end,
    v_key.email, v_key.name, v_key.role, v_key.tier, v_key.created_at, v_key.email_verified_at;
end
$$;
revoke all on function latchkey.check_api_key(bytea, jsonb) from public;

-- A batch of checks as one statement, each check's row tagged with its place in the batch; as
-- verify_api_keys was. Locks are taken user by user, then key by key (organizations' keys, which
-- lock no user, last), so batches of other lanes and isolates queue rather than deadlock.
create or replace function latchkey.check_api_keys(p_checks jsonb)
returns table (
  ordinality bigint,
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
      from latchkey.check_api_key(
        pg_catalog.decode(v_check.item ->> 'hash', 'hex'), v_check.item -> 'request'
      ) as v;
  end loop;
end
$$;
revoke all on function latchkey.check_api_keys(jsonb) from public;
