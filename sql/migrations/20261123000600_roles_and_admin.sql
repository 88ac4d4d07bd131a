-- Roles and permissions as data (API.md's table), permission-based policies for the admin
-- routes, the last-admin guard, and idempotency records.

create table if not exists latchkey.permissions (
  name text primary key check (name ~ '^[a-z]+:[a-z]+$'),
  description text not null
);
create table if not exists latchkey.role_permissions (
  role text not null check (role in ('user', 'support', 'admin')),
  permission text not null references latchkey.permissions (name),
  primary key (role, permission)
);

insert into latchkey.permissions (name, description) values
  ('users:read', 'List and read users and their sessions'),
  ('keys:read', 'List and read every API key'),
  ('keys:revoke', 'Revoke any API key'),
  ('sessions:revoke', 'Revoke any user''s sessions'),
  ('audit:read', 'Read the audit log'),
  ('users:write', 'Create, change, ban and delete users; set passwords'),
  ('keys:write', 'Create API keys for any user'),
  ('roles:write', 'Change users'' roles')
on conflict (name) do update set description = excluded.description;

insert into latchkey.role_permissions (role, permission) values
  ('support', 'users:read'), ('support', 'keys:read'), ('support', 'keys:revoke'),
  ('support', 'sessions:revoke'), ('support', 'audit:read'),
  ('admin', 'users:read'), ('admin', 'keys:read'), ('admin', 'keys:revoke'),
  ('admin', 'sessions:revoke'), ('admin', 'audit:read'), ('admin', 'users:write'),
  ('admin', 'keys:write'), ('admin', 'roles:write')
on conflict do nothing;

-- Readable, so anyone can see what a role means; changed only by migrations.
alter table latchkey.permissions enable row level security;
alter table latchkey.permissions force row level security;
alter table latchkey.role_permissions enable row level security;
alter table latchkey.role_permissions force row level security;
revoke all on latchkey.permissions, latchkey.role_permissions
  from public, anon, authenticated, service_role;
grant select on latchkey.permissions, latchkey.role_permissions to authenticated;
drop policy if exists "Everyone signed in can read permissions" on latchkey.permissions;
create policy "Everyone signed in can read permissions" on latchkey.permissions
  for select to authenticated, current_user using (true);
drop policy if exists "Everyone signed in can read role permissions" on latchkey.role_permissions;
create policy "Everyone signed in can read role permissions" on latchkey.role_permissions
  for select to authenticated, current_user using (true);

create or replace function latchkey.role_has_permission(p_role text, p_permission text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select from latchkey.role_permissions rp where rp.role = p_role and rp.permission = p_permission
  )
$$;

-- The caller's role must grant the permission, and when the claims carry the principal's
-- effective permissions (an API key's scopes intersected with its owner's role), so must they.
-- Under PostgREST there is no such list and the role alone decides.
create or replace function latchkey.caller_has_permission(p_permission text)
returns boolean
language sql
stable
set search_path = ''
as $$
  select latchkey.role_has_permission(latchkey.current_app_role(), p_permission)
    and coalesce((latchkey.current_claims() -> 'permissions') ? p_permission, true)
$$;
revoke all on function latchkey.role_has_permission(text, text) from public;
revoke all on function latchkey.caller_has_permission(text) from public;
grant execute on function latchkey.role_has_permission(text, text) to authenticated;
grant execute on function latchkey.caller_has_permission(text) to authenticated;

-- Users: support reads, admins write. Nobody changes their own row through the API role.
-- password_hash is writable (an admin sets a password) but, as before, never readable.
grant update (name, password_hash, role, tier, banned_at, ban_reason, updated_at)
  on latchkey.users to authenticated;
grant insert (email, name, password_hash, role, tier, is_service_account) on latchkey.users
  to authenticated;
grant delete on latchkey.users to authenticated;

drop policy if exists "Support and admins can read every user" on latchkey.users;
drop policy if exists "Readers of users can read every user" on latchkey.users;
create policy "Readers of users can read every user" on latchkey.users
  for select to authenticated using ((select latchkey.caller_has_permission('users:read')));
drop policy if exists "User admins can create users" on latchkey.users;
create policy "User admins can create users" on latchkey.users
  for insert to authenticated with check ((select latchkey.caller_has_permission('users:write')));
drop policy if exists "User admins can change users" on latchkey.users;
create policy "User admins can change users" on latchkey.users
  for update to authenticated
  using ((select latchkey.caller_has_permission('users:write')))
  with check ((select latchkey.caller_has_permission('users:write')));
drop policy if exists "User admins can delete users" on latchkey.users;
create policy "User admins can delete users" on latchkey.users
  for delete to authenticated using ((select latchkey.caller_has_permission('users:write')));

drop policy if exists "Support and admins can read every session" on latchkey.sessions;
drop policy if exists "Readers of users can read every session" on latchkey.sessions;
create policy "Readers of users can read every session" on latchkey.sessions
  for select to authenticated using ((select latchkey.caller_has_permission('users:read')));
drop policy if exists "Support and admins can revoke any session" on latchkey.sessions;
drop policy if exists "Session revokers can revoke any session" on latchkey.sessions;
create policy "Session revokers can revoke any session" on latchkey.sessions
  for update to authenticated
  using ((select latchkey.caller_has_permission('sessions:revoke')))
  with check ((select latchkey.caller_has_permission('sessions:revoke')));

drop policy if exists "Support and admins can read every key" on latchkey.api_keys;
drop policy if exists "Key readers can read every key" on latchkey.api_keys;
create policy "Key readers can read every key" on latchkey.api_keys
  for select to authenticated using ((select latchkey.caller_has_permission('keys:read')));
drop policy if exists "Admins can create keys for anyone" on latchkey.api_keys;
drop policy if exists "Key writers can create keys for anyone" on latchkey.api_keys;
create policy "Key writers can create keys for anyone" on latchkey.api_keys
  for insert to authenticated with check ((select latchkey.caller_has_permission('keys:write')));
drop policy if exists "Support and admins can revoke any key" on latchkey.api_keys;
drop policy if exists "Key revokers can revoke any key" on latchkey.api_keys;
create policy "Key revokers can revoke any key" on latchkey.api_keys
  for update to authenticated
  using ((select latchkey.caller_has_permission('keys:revoke')))
  with check ((select latchkey.caller_has_permission('keys:revoke')));
-- Admin-issued keys choose their type; the insert policy above decides who may.
grant insert (key_type) on latchkey.api_keys to authenticated;
drop policy if exists "Owners can create their own keys" on latchkey.api_keys;
create policy "Owners can create their own keys" on latchkey.api_keys
  for insert to authenticated
  with check (user_id = (select latchkey.current_user_id()) and key_type = 'human');

drop policy if exists "Support and admins can read audit events" on latchkey.audit_events;
drop policy if exists "Audit readers can read audit events" on latchkey.audit_events;
create policy "Audit readers can read audit events" on latchkey.audit_events
  for select to authenticated using ((select latchkey.caller_has_permission('audit:read')));

-- Sees every user whatever the caller may read, so the guard below cannot be fooled by RLS.
create or replace function latchkey.another_active_admin_exists(p_user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select from latchkey.users u
    where u.role = 'admin' and u.banned_at is null and u.id <> p_user_id
  )
$$;
revoke all on function latchkey.another_active_admin_exists(uuid) from public;
grant execute on function latchkey.another_active_admin_exists(uuid) to authenticated;

-- Role changes need roles:write, which a policy cannot say about one column; and there must
-- always be an active admin. Both hold for every writer, the schema owner included.
create or replace function latchkey.guard_user_changes()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'UPDATE' and new.role is distinct from old.role
    and current_user = 'authenticated'
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
revoke all on function latchkey.guard_user_changes() from public;

drop trigger if exists users_guard_changes on latchkey.users;
create trigger users_guard_changes
  before update or delete on latchkey.users
  for each row execute function latchkey.guard_user_changes();

-- Idempotency-Key records: the first response to (caller, key) is replayed for the same
-- request and refused for a different one. A concurrent duplicate waits on the primary key
-- until the first commits, then replays it: exactly one resource is created.
create table if not exists latchkey.idempotency_records (
  owner text not null,
  idempotency_key text not null check (length(idempotency_key) between 1 and 255),
  request_hash bytea not null,
  status integer,
  response jsonb,
  created_at timestamptz not null default now(),
  primary key (owner, idempotency_key)
);

create or replace function latchkey.current_idempotency_owner()
returns text
language sql
stable
set search_path = ''
as $$
  select coalesce(
    latchkey.current_user_id()::text,
    latchkey.current_claims() ->> 'principal_kind'
  )
$$;
revoke all on function latchkey.current_idempotency_owner() from public;
grant execute on function latchkey.current_idempotency_owner() to authenticated;

alter table latchkey.idempotency_records enable row level security;
alter table latchkey.idempotency_records force row level security;
revoke all on latchkey.idempotency_records from public, anon, authenticated, service_role;
grant select, insert, delete on latchkey.idempotency_records to authenticated;
grant update (status, response) on latchkey.idempotency_records to authenticated;
drop policy if exists "Callers manage their own idempotency records"
  on latchkey.idempotency_records;
create policy "Callers manage their own idempotency records" on latchkey.idempotency_records
  to authenticated
  using (owner = (select latchkey.current_idempotency_owner()))
  with check (owner = (select latchkey.current_idempotency_owner()));

-- Banning a user or setting their password ends all their sessions. A key scoped to
-- users:write alone could not revoke sessions through RLS, so this narrow function does it,
-- for callers holding users:write.
create or replace function latchkey.revoke_all_sessions(p_user_id uuid)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_revoked integer;
begin
  if not latchkey.caller_has_permission('users:write') then
    raise exception 'revoking a user''s sessions this way needs users:write'
      using errcode = 'insufficient_privilege';
  end if;
  update latchkey.sessions set revoked_at = now()
  where user_id = p_user_id and revoked_at is null and expires_at > now();
  get diagnostics v_revoked = row_count;
  return v_revoked;
end
$$;
revoke all on function latchkey.revoke_all_sessions(uuid) from public;
grant execute on function latchkey.revoke_all_sessions(uuid) to authenticated;
