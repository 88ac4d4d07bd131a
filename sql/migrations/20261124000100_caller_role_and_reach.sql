-- After an attacker's review: route queries run as our own NOLOGIN role, `latchkey_caller`,
-- with the caller in a setting of our own namespace that only our transaction sets; Supabase's
-- shared `authenticated` role (which every end user of a team's app holds in PostgREST and
-- GraphQL) and the JWT claims a third party can mint reach nothing here. One permissive policy
-- per role and action. Revocation is one-way. A credential never grants, or acts on an account
-- holding, a permission it does not itself hold.

do $$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'latchkey_caller') then
    create role latchkey_caller nologin noinherit;
  end if;
  -- The functions' login switches to it for every route query, which needs membership.
  if not pg_catalog.pg_has_role(current_user, 'latchkey_caller', 'member') then
    execute pg_catalog.format('grant latchkey_caller to %I', current_user);
  end if;
end
$$;
comment on role latchkey_caller is
  'Latchkey: the role route queries run as; the caller is in the setting latchkey.caller.';

-- Nothing of ours for Supabase's API roles: not the schema, a table or a function.
revoke all on all tables in schema latchkey from public, anon, authenticated, service_role;
revoke all on all functions in schema latchkey from public, anon, authenticated, service_role;
revoke all on schema latchkey from public, anon, authenticated, service_role;
grant usage on schema latchkey to latchkey_caller;

-- Who is calling: set by `withCaller` with set_config(..., true), so it lives for one
-- transaction. `request.jwt.claims` is not read: PostgREST fills it from any JWT the project
-- accepts, including ones a team's access-token hook shapes.
create or replace function latchkey.current_caller()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select coalesce(nullif(pg_catalog.current_setting('latchkey.caller', true), ''), '{}')::jsonb
$$;

create or replace function latchkey.current_user_id()
returns uuid
language sql
stable
set search_path = ''
as $$
  select nullif(latchkey.current_caller() ->> 'sub', '')::uuid
$$;

create or replace function latchkey.current_app_role()
returns text
language sql
stable
set search_path = ''
as $$
  select coalesce(nullif(latchkey.current_caller() ->> 'app_role', ''), 'anonymous')
$$;

-- Only the kinds a request can be; `system` belongs to the seed and tasks alone.
create or replace function latchkey.current_principal_kind()
returns text
language sql
stable
set search_path = ''
as $$
  select case
    when latchkey.current_caller() ->> 'principal_kind' in ('session', 'api_key', 'admin_key')
      then latchkey.current_caller() ->> 'principal_kind'
    else 'anonymous'
  end
$$;

create or replace function latchkey.current_credential_id()
returns uuid
language sql
stable
set search_path = ''
as $$
  select nullif(latchkey.current_caller() ->> 'credential_id', '')::uuid
$$;

-- The caller's role must grant the permission, and so must its effective permissions (an API
-- key's scopes within its owner's role). No list, no permission.
create or replace function latchkey.caller_has_permission(p_permission text)
returns boolean
language sql
stable
set search_path = ''
as $$
  select latchkey.role_has_permission(latchkey.current_app_role(), p_permission)
    and coalesce((latchkey.current_caller() -> 'permissions') ? p_permission, false)
$$;

-- A credential reaches an account only when it holds every permission the account's role
-- holds: a narrow key cannot set an admin's password, ban, delete or sign out an admin, or
-- revoke an admin's keys, and so climb to powers it was never given.
create or replace function latchkey.caller_reaches_role(p_role text)
returns boolean
language sql
stable
set search_path = ''
as $$
  select not exists (
    select from latchkey.role_permissions rp
    where rp.role = p_role and not latchkey.caller_has_permission(rp.permission)
  )
$$;

-- An account's role, whatever the caller may read: the reach of a change depends on it (a key
-- revoker need not read users to be told whose key is beyond it).
create or replace function latchkey.user_role(p_user_id uuid)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select u.role from latchkey.users u where u.id = p_user_id
$$;

create or replace function latchkey.caller_reaches_user(p_user_id uuid)
returns boolean
language sql
stable
set search_path = ''
as $$
  select latchkey.caller_reaches_role(coalesce(latchkey.user_role(p_user_id), 'user'))
$$;

-- Admin permissions on a key must be held by whoever grants them; application scopes are free.
create or replace function latchkey.caller_holds_scopes(p_scopes text[])
returns boolean
language sql
stable
set search_path = ''
as $$
  select not exists (
    select from latchkey.permissions p
    where p.name = any (p_scopes) and not latchkey.caller_has_permission(p.name)
  )
$$;

create or replace function latchkey.current_idempotency_owner()
returns text
language sql
stable
set search_path = ''
as $$
  select coalesce(latchkey.current_user_id()::text, latchkey.current_principal_kind())
$$;

-- The actor comes from the caller setting only, and is never `system`.
create or replace function latchkey.record_audit_event(
  p_action text,
  p_target_kind text,
  p_target_id uuid,
  p_metadata jsonb default '{}'
)
returns uuid
language sql
security definer
set search_path = ''
as $$
  select latchkey.append_audit_event(
    latchkey.current_principal_kind(),
    latchkey.current_user_id(),
    latchkey.current_credential_id(),
    p_action, p_target_kind, p_target_id,
    coalesce(nullif(pg_catalog.current_setting('latchkey.request', true), ''), '{}')::jsonb,
    p_metadata
  )
$$;

-- Banning a user or setting their password ends all their sessions, for callers holding
-- users:write who reach the account.
create or replace function latchkey.revoke_all_sessions(p_user_id uuid)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_revoked integer;
begin
  if not latchkey.caller_has_permission('users:write')
    or not latchkey.caller_reaches_user(p_user_id) then
    raise exception 'revoking these sessions needs users:write and every permission of the role'
      using errcode = 'insufficient_privilege';
  end if;
  update latchkey.sessions set revoked_at = now()
  where user_id = p_user_id and revoked_at is null and expires_at > now();
  get diagnostics v_revoked = row_count;
  return v_revoked;
end
$$;

-- Role changes need roles:write (a policy cannot say that about one column); the last active
-- admin stays. Both hold for every writer, the schema owner included.
create or replace function latchkey.guard_user_changes()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'UPDATE' and new.role is distinct from old.role
    and current_user = 'latchkey_caller'
    and not latchkey.caller_has_permission('roles:write') then
    raise exception 'changing a role needs roles:write' using errcode = 'insufficient_privilege';
  end if;

  if old.role = 'admin' and old.banned_at is null and (
    tg_op = 'DELETE' or new.role <> 'admin' or new.banned_at is not null
  ) then
    -- Serialise admin removals, so two admins cannot remove each other at once.
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('latchkey.last_admin'));
    if not latchkey.another_active_admin_exists(old.id) then
      raise exception 'the last active admin cannot be demoted, banned or deleted'
        using errcode = 'P0001', hint = 'last_admin';
    end if;
  end if;
  return case when tg_op = 'DELETE' then old else new end;
end
$$;

-- Nothing reads the old claim helper any more.
drop function if exists latchkey.current_claims();

-- A revoked session or key stays revoked, whoever writes: no policy, grant or bug can bring it
-- back.
create or replace function latchkey.keep_revocations_final()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if old.revoked_at is not null and new.revoked_at is distinct from old.revoked_at then
    raise exception 'a revocation is final' using errcode = 'insufficient_privilege';
  end if;
  return new;
end
$$;
drop trigger if exists sessions_revocation_is_final on latchkey.sessions;
create trigger sessions_revocation_is_final
  before update on latchkey.sessions
  for each row execute function latchkey.keep_revocations_final();
drop trigger if exists api_keys_revocation_is_final on latchkey.api_keys;
create trigger api_keys_revocation_is_final
  before update on latchkey.api_keys
  for each row execute function latchkey.keep_revocations_final();

-- Bootstrap service accounts live under this domain; nobody else may take an address there.
-- NOT VALID: rows from before are left for an operator to look at, new rows are checked.
alter table latchkey.users drop constraint if exists users_service_account_domain_reserved;
alter table latchkey.users add constraint users_service_account_domain_reserved check (
  lower(email) not like '%@service-accounts.latchkey.invalid'
  or (is_service_account and created_by_bootstrap)
) not valid;

-- Grants for the caller role: what `authenticated` had before, nothing more.
grant select (
  id, email, name, role, tier, is_service_account, banned_at, ban_reason, last_sign_in_at,
  created_at, updated_at
) on latchkey.users to latchkey_caller;
grant update (name, password_hash, role, tier, banned_at, ban_reason, updated_at)
  on latchkey.users to latchkey_caller;
grant insert (email, name, password_hash, role, tier, is_service_account)
  on latchkey.users to latchkey_caller;
grant delete on latchkey.users to latchkey_caller;
grant select (id, user_id, created_at, expires_at, revoked_at, ip_address, user_agent)
  on latchkey.sessions to latchkey_caller;
grant update (revoked_at) on latchkey.sessions to latchkey_caller;
grant select (
  id, user_id, name, key_prefix, scopes, key_type, rate_limit_per_minute, expires_at,
  last_used_at, revoked_at, created_by, created_at
) on latchkey.api_keys to latchkey_caller;
grant insert (
  user_id, name, key_prefix, key_hash, scopes, key_type, rate_limit_per_minute, expires_at
) on latchkey.api_keys to latchkey_caller;
grant update (revoked_at) on latchkey.api_keys to latchkey_caller;
grant select on latchkey.audit_events to latchkey_caller;
grant select on latchkey.permissions, latchkey.role_permissions to latchkey_caller;
grant select, insert, delete on latchkey.idempotency_records to latchkey_caller;
grant update (status, response) on latchkey.idempotency_records to latchkey_caller;

grant execute on function
  latchkey.current_caller(),
  latchkey.current_user_id(),
  latchkey.current_app_role(),
  latchkey.current_principal_kind(),
  latchkey.current_credential_id(),
  latchkey.caller_has_role(text[]),
  latchkey.role_has_permission(text, text),
  latchkey.caller_has_permission(text),
  latchkey.caller_reaches_role(text),
  latchkey.user_role(uuid),
  latchkey.caller_reaches_user(uuid),
  latchkey.caller_holds_scopes(text[]),
  latchkey.another_active_admin_exists(uuid),
  latchkey.current_idempotency_owner(),
  latchkey.record_audit_event(text, text, uuid, jsonb),
  latchkey.revoke_all_sessions(uuid)
to latchkey_caller;

-- The policies, again, for the caller role and one per table and action (the Supabase
-- Advisor's multiple_permissive_policies). The owner's own policies stay as they were.
do $$
declare
  v_policy record;
begin
  for v_policy in
    select p.schemaname, p.tablename, p.policyname
    from pg_catalog.pg_policies p
    where p.schemaname = 'latchkey' and p.policyname not like 'Latchkey''s own functions %'
  loop
    execute pg_catalog.format(
      'drop policy %I on %I.%I', v_policy.policyname, v_policy.schemaname, v_policy.tablename
    );
  end loop;
end
$$;

-- Writers read too: what they create they must see returned (INSERT ... RETURNING checks the
-- select policy), and what they change they must find.
create policy "Callers read their own profile, readers and writers of users every one"
  on latchkey.users
  for select to latchkey_caller using (
    id = (select latchkey.current_user_id())
    or (select latchkey.caller_has_permission('users:read'))
    or (select latchkey.caller_has_permission('users:write'))
  );
create policy "User admins create accounts up to their own reach" on latchkey.users
  for insert to latchkey_caller with check (
    (select latchkey.caller_has_permission('users:write')) and latchkey.caller_reaches_role(role)
  );
create policy "User admins change accounts within their reach" on latchkey.users
  for update to latchkey_caller
  using (
    (select latchkey.caller_has_permission('users:write')) and latchkey.caller_reaches_role(role)
  )
  with check (
    (select latchkey.caller_has_permission('users:write')) and latchkey.caller_reaches_role(role)
  );
create policy "User admins delete accounts within their reach" on latchkey.users
  for delete to latchkey_caller using (
    (select latchkey.caller_has_permission('users:write')) and latchkey.caller_reaches_role(role)
  );

create policy "Callers read their own sessions, readers of users every one" on latchkey.sessions
  for select to latchkey_caller using (
    user_id = (select latchkey.current_user_id())
    or (select latchkey.caller_has_permission('users:read'))
  );
create policy "Callers revoke their own sessions, session revokers those they reach"
  on latchkey.sessions
  for update to latchkey_caller
  using (
    user_id = (select latchkey.current_user_id())
    or ((select latchkey.caller_has_permission('sessions:revoke'))
      and latchkey.caller_reaches_user(user_id))
  )
  with check (
    revoked_at is not null and (
      user_id = (select latchkey.current_user_id())
      or ((select latchkey.caller_has_permission('sessions:revoke'))
        and latchkey.caller_reaches_user(user_id))
    )
  );

create policy "Owners read their own keys, key readers and writers every one" on latchkey.api_keys
  for select to latchkey_caller using (
    user_id = (select latchkey.current_user_id())
    or (select latchkey.caller_has_permission('keys:read'))
    or (select latchkey.caller_has_permission('keys:write'))
  );
-- Self-service keys are `human`; key writers choose the type. Either way the scopes stay within
-- what the caller holds, and a key for an account beyond the caller's reach needs roles:write.
create policy "Callers create keys within what they hold" on latchkey.api_keys
  for insert to latchkey_caller with check (
    latchkey.caller_holds_scopes(scopes) and (
      (user_id = (select latchkey.current_user_id()) and key_type = 'human')
      or ((select latchkey.caller_has_permission('keys:write')) and (
        user_id = (select latchkey.current_user_id())
        or latchkey.caller_reaches_user(user_id)
        or (select latchkey.caller_has_permission('roles:write'))
      ))
    )
  );
-- An API key revokes only itself among its owner's keys; the rest needs a session.
create policy "Owners revoke their own keys, key revokers those they reach" on latchkey.api_keys
  for update to latchkey_caller
  using (
    (user_id = (select latchkey.current_user_id()) and (
      (select latchkey.current_principal_kind()) <> 'api_key'
      or id = (select latchkey.current_credential_id())
    ))
    or ((select latchkey.caller_has_permission('keys:revoke'))
      and latchkey.caller_reaches_user(user_id))
  )
  with check (
    revoked_at is not null and (
      (user_id = (select latchkey.current_user_id()) and (
        (select latchkey.current_principal_kind()) <> 'api_key'
        or id = (select latchkey.current_credential_id())
      ))
      or ((select latchkey.caller_has_permission('keys:revoke'))
        and latchkey.caller_reaches_user(user_id))
    )
  );

create policy "Audit readers read audit events" on latchkey.audit_events
  for select to latchkey_caller using ((select latchkey.caller_has_permission('audit:read')));

-- Readable, so anyone can see what a role means (and the owner's definer functions can check).
create policy "Callers read what each permission means" on latchkey.permissions
  for select to latchkey_caller, current_user using (true);
create policy "Callers read which role holds which permission" on latchkey.role_permissions
  for select to latchkey_caller, current_user using (true);

create policy "Callers manage their own idempotency records" on latchkey.idempotency_records
  to latchkey_caller
  using (owner = (select latchkey.current_idempotency_owner()))
  with check (owner = (select latchkey.current_idempotency_owner()));

-- Throttles for what must be slowed per client (wrong X-Admin-Key guesses first): GCRA in one
-- row per (bucket, subject), so a limit of N per window allows a burst of N, then one every
-- window/N. UNLOGGED like the rate-limit windows: a crash forgets at most one window.
create unlogged table if not exists latchkey.throttles (
  bucket text not null check (bucket ~ '^[a-z][a-z0-9_.]{0,63}$'),
  -- SHA-256 of the client address (or other subject): no list of addresses is kept here.
  subject_hash bytea not null check (length(subject_hash) = 32),
  -- GCRA's theoretical arrival time: a hit is allowed while it is at most one window ahead.
  allowed_at timestamptz not null,
  audited_at timestamptz,
  primary key (bucket, subject_hash)
);
alter table latchkey.throttles enable row level security;
alter table latchkey.throttles force row level security;
revoke all on latchkey.throttles from public, anon, authenticated, service_role;
drop policy if exists "Latchkey's own functions manage throttles" on latchkey.throttles;
create policy "Latchkey's own functions manage throttles" on latchkey.throttles
  to current_user using (true) with check (true);

-- Seconds until the subject may hit the bucket again (0: now), without counting a hit.
create or replace function latchkey.throttle_retry_after(
  p_bucket text,
  p_subject text,
  p_limit integer,
  p_window interval
)
returns integer
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(
    (
      select greatest(0, ceil(extract(epoch from (
        t.allowed_at - (pg_catalog.now() + p_window - p_window / p_limit)
      ))))::integer
      from latchkey.throttles t
      where t.bucket = p_bucket
        and t.subject_hash = pg_catalog.sha256(pg_catalog.convert_to(p_subject, 'UTF8'))
    ),
    0
  )
$$;

-- Counts one hit; returns the seconds until the next is allowed (0: now) and whether this is
-- the first hit of the subject's minute (so floods are audited once a minute, not per hit).
-- The arrival time never runs more than one window ahead: a subject that keeps hitting gets
-- one try per window/limit, not a lock-out that grows forever.
create or replace function latchkey.throttle_hit(
  p_bucket text,
  p_subject text,
  p_limit integer,
  p_window interval,
  out retry_after integer,
  out first_this_minute boolean
)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_interval interval := p_window / p_limit;
  -- The clock, not the transaction's start: it tells this hit's audit mark from earlier ones.
  v_hit_at timestamptz := pg_catalog.clock_timestamp();
  v_row latchkey.throttles;
begin
  insert into latchkey.throttles as t (bucket, subject_hash, allowed_at, audited_at)
  values (
    p_bucket, pg_catalog.sha256(pg_catalog.convert_to(p_subject, 'UTF8')),
    pg_catalog.now() + v_interval, v_hit_at
  )
  on conflict (bucket, subject_hash) do update set
    allowed_at = least(
      greatest(t.allowed_at, pg_catalog.now()) + v_interval, pg_catalog.now() + p_window
    ),
    audited_at = case
      when t.audited_at > v_hit_at - interval '1 minute' then t.audited_at
      else v_hit_at
    end
  returning t.* into v_row;
  retry_after := greatest(0, ceil(extract(epoch from (
    v_row.allowed_at - (pg_catalog.now() + p_window - v_interval)
  ))))::integer;
  first_this_minute := v_row.audited_at = v_hit_at;
end
$$;

-- A wrong X-Admin-Key: counted against the client, audited once per client per minute.
create or replace function latchkey.record_admin_key_failure(
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
  v_hit record;
begin
  select * into v_hit from latchkey.throttle_hit('admin_key', p_client, p_limit, p_window);
  if v_hit.first_this_minute then
    perform latchkey.append_audit_event(
      'anonymous', null, null, 'admin_key.rejected', null, null, p_request,
      pg_catalog.jsonb_build_object('client', p_client)
    );
  end if;
  return v_hit.retry_after;
end
$$;

revoke all on function latchkey.current_caller() from public;
revoke all on function latchkey.current_principal_kind() from public;
revoke all on function latchkey.current_credential_id() from public;
revoke all on function latchkey.caller_reaches_role(text) from public;
revoke all on function latchkey.user_role(uuid) from public;
revoke all on function latchkey.caller_reaches_user(uuid) from public;
revoke all on function latchkey.caller_holds_scopes(text[]) from public;
revoke all on function latchkey.keep_revocations_final() from public;
revoke all on function latchkey.throttle_retry_after(text, text, integer, interval) from public;
revoke all on function latchkey.throttle_hit(text, text, integer, interval) from public;
revoke all on function latchkey.record_admin_key_failure(text, integer, interval, jsonb)
  from public;
-- The admin-key check reads its client's throttle inside the caller's transaction.
grant execute on function latchkey.throttle_retry_after(text, text, integer, interval)
  to latchkey_caller;
