-- Roles and permissions at runtime (issue 29, item 3): the team's own permissions join the
-- catalogue (`notes:read`, `invoices:write`), platform roles beside user, support and admin, and
-- organization roles beside owner, admin and member, all created and edited through the admin API.
--
-- PostgreSQL stays the enforcer. The catalogue tables are written by the caller role through
-- their policies, which apply the reach rule to every row: nobody puts into a role a permission
-- they do not hold, nor changes (or deletes) a role holding a permission they lack; so nobody
-- gives anyone, themselves included, more than they have. Adding a permission to a role needs a
-- step-up (latchkey.require_step_up). admin (and an organization's owner) is fixed: it holds
-- every permission, the team's new ones included. Built-in roles and permissions are never
-- deleted or renamed; names are identifiers (users.role, tokens' app_role, teams' policies) and
-- are never renamed. A role still held (by accounts, members or open invitations) and a
-- permission still held (by a role other than admin, or by a live key) are not deleted.
--
-- Effects are immediate: a session's permissions are its role's rows, read on every request
-- (authentication), and a key's are its scopes within its owner's role's rows, read by the key
-- check; RLS reads the same rows again (latchkey.role_has_permission).

-- The roles: user, support and admin, and the team's own.
-- `anonymous` is what latchkey.current_app_role() answers for a caller with no role: no role may
-- be called that.
create table if not exists latchkey.roles (
  name text primary key check (name ~ '^[a-z][a-z0-9_-]{0,31}$' and name <> 'anonymous'),
  description text not null default '' check (length(description) <= 500),
  built_in boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
insert into latchkey.roles (name, description, built_in) values
  ('user', 'Every account: its own profile, sessions and keys', true),
  ('support', 'Reads every account and key; signs out and revokes keys of those it reaches', true),
  ('admin', 'Every permission of the catalogue, the team''s own included', true)
on conflict (name) do update set built_in = true;

-- The catalogue: a migration's insert is built in (the default, so permissions that later
-- migrations add are Latchkey's own), the admin API inserts the team's with built_in false.
alter table latchkey.permissions add column if not exists built_in boolean not null default true;
alter table latchkey.permissions add column if not exists created_at timestamptz not null
  default now();
alter table latchkey.permissions add column if not exists updated_at timestamptz not null
  default now();
-- Wider than before (digits, _ and - within each part): every existing name still fits.
alter table latchkey.permissions drop constraint if exists permissions_name_check;
alter table latchkey.permissions add constraint permissions_name_check
  check (name ~ '^[a-z][a-z0-9_-]{0,31}:[a-z][a-z0-9_-]{0,31}$');
alter table latchkey.permissions drop constraint if exists permissions_description_check;
alter table latchkey.permissions add constraint permissions_description_check
  check (length(description) between 1 and 500) not valid;

insert into latchkey.permissions (name, description) values
  ('roles:read', 'Read the roles and the permission catalogue'),
  ('roles:write', 'Change users'' roles; create, change and delete roles and the team''s ' ||
    'permissions within the caller''s reach')
on conflict (name) do update set description = excluded.description;

-- Roles are rows now: the fixed list becomes a foreign key, for role_permissions and for users
-- (every existing row names user, support or admin, which exist above).
alter table latchkey.role_permissions drop constraint if exists role_permissions_role_check;
alter table latchkey.users drop constraint if exists users_role_check;
do $$
begin
  if not exists (
    select from pg_catalog.pg_constraint
    where conname = 'role_permissions_role_fkey' and conrelid = 'latchkey.role_permissions'::regclass
  ) then
    alter table latchkey.role_permissions add constraint role_permissions_role_fkey
      foreign key (role) references latchkey.roles (name) on delete cascade;
  end if;
  -- A permission's rows go with it; the guard below refuses while anyone but admin holds it.
  if not exists (
    select from pg_catalog.pg_constraint
    where conname = 'role_permissions_permission_fkey'
      and conrelid = 'latchkey.role_permissions'::regclass and confdeltype = 'c'
  ) then
    alter table latchkey.role_permissions drop constraint if exists role_permissions_permission_fkey;
    alter table latchkey.role_permissions add constraint role_permissions_permission_fkey
      foreign key (permission) references latchkey.permissions (name) on delete cascade;
  end if;
  if not exists (
    select from pg_catalog.pg_constraint
    where conname = 'users_role_fkey' and conrelid = 'latchkey.users'::regclass
  ) then
    alter table latchkey.users add constraint users_role_fkey
      foreign key (role) references latchkey.roles (name);
  end if;
  -- An organization role's closed invitations go with it (the audit log keeps them); open ones
  -- and memberships hold it (the guard below).
  if not exists (
    select from pg_catalog.pg_constraint
    where conname = 'org_invitations_role_fkey'
      and conrelid = 'latchkey.org_invitations'::regclass and confdeltype = 'c'
  ) then
    alter table latchkey.org_invitations drop constraint if exists org_invitations_role_fkey;
    alter table latchkey.org_invitations add constraint org_invitations_role_fkey
      foreign key (role) references latchkey.org_roles (name) on update cascade on delete cascade;
  end if;
end
$$;

alter table latchkey.org_roles add column if not exists created_at timestamptz not null
  default now();
alter table latchkey.org_roles add column if not exists updated_at timestamptz not null
  default now();
alter table latchkey.org_roles drop constraint if exists org_roles_description_check;
alter table latchkey.org_roles add constraint org_roles_description_check
  check (length(description) <= 500) not valid;

-- admin holds every permission: those there now, and each one added later.
insert into latchkey.role_permissions (role, permission)
select 'admin', p.name from latchkey.permissions p
on conflict do nothing;
insert into latchkey.role_permissions (role, permission) values ('support', 'roles:read')
on conflict do nothing;

create or replace function latchkey.grant_new_permission_to_admin()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into latchkey.role_permissions (role, permission) values ('admin', new.name)
  on conflict do nothing;
  return null;
end
$$;
revoke all on function latchkey.grant_new_permission_to_admin() from public;
drop trigger if exists permissions_granted_to_admin on latchkey.permissions;
create trigger permissions_granted_to_admin
  after insert on latchkey.permissions
  for each row execute function latchkey.grant_new_permission_to_admin();

-- A role's permission names, for the principal (authentication, the key check) and for answers
-- that say what a role may do. Readable by everyone, as the rows are. PL/pgSQL, whose plan is
-- kept for the session: a SQL function's is made again on every call, and this runs on every
-- request (measured: about 40 µs a call as SQL, a few as PL/pgSQL).
create or replace function latchkey.role_permission_names(p_role text)
returns text[]
language plpgsql
stable
set search_path = ''
as $$
begin
  return coalesce((
    select pg_catalog.array_agg(rp.permission order by rp.permission)
    from latchkey.role_permissions rp where rp.role = p_role
  ), '{}');
end
$$;
revoke all on function latchkey.role_permission_names(text) from public;
grant execute on function latchkey.role_permission_names(text) to latchkey_caller;

-- What a key's token says its bearer is (`app_role`): of its owner's role and the built-in
-- roles, the one with the most permissions that the key holds every one of (an admin's
-- `users:read` key is a `user` there, a key holding all of a custom role's permissions is that
-- role), so a policy on `app_role` never grants a key more than its scopes.
create or replace function latchkey.token_role(p_owner_role text, p_permissions text[])
returns text
language sql
stable
set search_path = ''
as $$
  select coalesce((
    select r.name from latchkey.roles r
    where (r.name = p_owner_role or r.built_in)
      and not exists (
        select from latchkey.role_permissions rp
        where rp.role = r.name and not rp.permission = any (p_permissions)
      )
    order by (select count(*) from latchkey.role_permissions rp where rp.role = r.name) desc,
      r.name = p_owner_role desc, r.name
    limit 1
  ), 'user')
$$;
revoke all on function latchkey.token_role(text, text[]) from public;

-- A key's scopes grant Latchkey's own permissions only to an aal2 session (a team's permission
-- is no admin power: a user's aal1 session grants what its role holds); every catalogue
-- permission among them must be held by whoever grants it.
create or replace function latchkey.caller_holds_scopes(p_scopes text[])
returns boolean
language sql
stable
set search_path = ''
as $$
  select not exists (
    select from latchkey.permissions p
    where p.name = any (p_scopes)
      and (not latchkey.caller_has_permission(p.name)
        or (p.built_in and latchkey.current_aal() is not distinct from 'aal1'))
  )
$$;

-- Minting or enabling a key with one of Latchkey's own permissions needs a step-up; the team's
-- permissions do not make a key an admin's.
create or replace function latchkey.guard_admin_key_step_up()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.scopes && array(select p.name from latchkey.permissions p where p.built_in) then
    if tg_op = 'INSERT' then
      perform latchkey.require_step_up('Minting a key with an admin permission');
    else
      perform latchkey.require_step_up('Enabling a key with an admin permission');
    end if;
  end if;
  return new;
end
$$;

-- `deno task promote -- <email> --role <role>`: any role of the catalogue.
create or replace function latchkey.promote_user(p_email text, p_role text default 'admin')
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user latchkey.users;
  v_revoked integer;
begin
  if not exists (select from latchkey.roles r where r.name = p_role) then
    raise exception 'unknown role %: use one of %', p_role,
      (select pg_catalog.string_agg(r.name, ', ' order by r.name) from latchkey.roles r)
      using errcode = 'invalid_parameter_value';
  end if;
  select * into v_user from latchkey.users u where lower(u.email) = lower(p_email) for update;
  if not found then
    raise exception 'no user with email %', p_email using errcode = 'no_data_found';
  end if;
  update latchkey.users set role = p_role, updated_at = now() where id = v_user.id;
  update latchkey.sessions set revoked_at = now()
  where user_id = v_user.id and revoked_at is null and expires_at > now();
  get diagnostics v_revoked = row_count;
  perform latchkey.append_audit_event(
    'system', null, null, 'bootstrap.user_promoted', 'user', v_user.id, '{}'::jsonb,
    pg_catalog.jsonb_build_object(
      'before', pg_catalog.jsonb_build_object('role', v_user.role),
      'after', pg_catalog.jsonb_build_object('role', p_role),
      'revokedSessions', v_revoked
    )
  );
  return 'promoted';
end
$$;

-- The guards hold for every writer, the schema owner included: names never change, built-in
-- rows are never deleted, and nothing still held is deleted (P0001 with the API's error code as
-- the hint: 409 built_in, 409 in_use). A deletion locks the row first (a BEFORE DELETE
-- trigger's row is locked), so an assignment racing it either committed before the count or
-- waits and then finds no such role.
create or replace function latchkey.guard_permission_changes()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_roles integer;
  v_keys integer;
begin
  if tg_op = 'UPDATE' then
    if new.name is distinct from old.name or new.built_in is distinct from old.built_in then
      raise exception 'a permission''s name and origin never change'
        using errcode = 'P0001', hint = 'built_in';
    end if;
    return new;
  end if;
  if old.built_in then
    raise exception 'the built-in permission % cannot be deleted', old.name
      using errcode = 'P0001', hint = 'built_in';
  end if;
  select count(*) into v_roles from latchkey.role_permissions rp
  where rp.permission = old.name and rp.role <> 'admin';
  select count(*) into v_keys from latchkey.api_keys k
  where k.scopes @> array[old.name] and k.revoked_at is null
    and (k.expires_at is null or k.expires_at > pg_catalog.now());
  if v_roles > 0 or v_keys > 0 then
    raise exception 'The permission % is held by % role(s) besides admin and % live key(s): '
      'take it from those roles and revoke those keys first.', old.name, v_roles, v_keys
      using errcode = 'P0001', hint = 'in_use';
  end if;
  return old;
end
$$;
revoke all on function latchkey.guard_permission_changes() from public;
drop trigger if exists permissions_guard_changes on latchkey.permissions;
create trigger permissions_guard_changes
  before update or delete on latchkey.permissions
  for each row execute function latchkey.guard_permission_changes();

create or replace function latchkey.guard_role_changes()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_held integer;
  v_invited integer := 0;
begin
  if tg_op = 'UPDATE' then
    if new.name is distinct from old.name or new.built_in is distinct from old.built_in then
      raise exception 'a role''s name and origin never change'
        using errcode = 'P0001', hint = 'built_in';
    end if;
    return new;
  end if;
  if old.built_in then
    raise exception 'the built-in role % cannot be deleted', old.name
      using errcode = 'P0001', hint = 'built_in';
  end if;
  if tg_table_name = 'roles' then
    select count(*) into v_held from latchkey.users u where u.role = old.name;
    if v_held > 0 then
      raise exception 'The role % is held by % account(s): give them another role first.',
        old.name, v_held using errcode = 'P0001', hint = 'in_use';
    end if;
  else
    select count(*) into v_held from latchkey.org_memberships m where m.role = old.name;
    select count(*) into v_invited from latchkey.org_invitations i
    where i.role = old.name and i.accepted_at is null and i.revoked_at is null
      and i.expires_at > pg_catalog.now();
    if v_held > 0 or v_invited > 0 then
      raise exception 'The organization role % is held by % member(s) and % open '
        'invitation(s): give the members another role and revoke the invitations first.',
        old.name, v_held, v_invited using errcode = 'P0001', hint = 'in_use';
    end if;
  end if;
  return old;
end
$$;
revoke all on function latchkey.guard_role_changes() from public;
drop trigger if exists roles_guard_changes on latchkey.roles;
create trigger roles_guard_changes
  before update or delete on latchkey.roles
  for each row execute function latchkey.guard_role_changes();
drop trigger if exists org_roles_guard_changes on latchkey.org_roles;
create trigger org_roles_guard_changes
  before update or delete on latchkey.org_roles
  for each row execute function latchkey.guard_role_changes();

-- Adding a permission to a role is a grant to everyone holding it: a session needs a step-up.
-- Asked of whoever may write roles at all (the policies refuse anyone else, and say so); not of
-- the admin's automatic rows, which the catalogue's own trigger adds with nobody to ask.
create or replace function latchkey.guard_role_grant_step_up()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if not (tg_table_name = 'role_permissions' and new.role = 'admin')
    and latchkey.caller_has_permission('roles:write')
  then
    perform latchkey.require_step_up('Adding a permission to a role');
  end if;
  return new;
end
$$;
revoke all on function latchkey.guard_role_grant_step_up() from public;
drop trigger if exists role_permissions_step_up on latchkey.role_permissions;
create trigger role_permissions_step_up
  before insert on latchkey.role_permissions
  for each row execute function latchkey.guard_role_grant_step_up();
drop trigger if exists org_role_permissions_step_up on latchkey.org_role_permissions;
create trigger org_role_permissions_step_up
  before insert on latchkey.org_role_permissions
  for each row execute function latchkey.guard_role_grant_step_up();

-- The catalogue's resources that are Latchkey's own (users, keys, roles, ...): a team's
-- permission names another resource, so it never reads as one of Latchkey's.
create or replace function latchkey.reserved_permission_resource(p_name text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select from latchkey.permissions p
    where p.built_in and pg_catalog.split_part(p.name, ':', 1) = pg_catalog.split_part(p_name, ':', 1)
  )
$$;
revoke all on function latchkey.reserved_permission_resource(text) from public;
grant execute on function latchkey.reserved_permission_resource(text) to latchkey_caller;

-- RLS: everyone reads the catalogue; roles:write writes it within the caller's reach. The
-- owner's own policy (its definer functions and migrations) is one per table for every action.
alter table latchkey.roles enable row level security;
alter table latchkey.roles force row level security;
revoke all on latchkey.roles from public, anon, authenticated, service_role, latchkey_caller;
grant select on latchkey.roles to latchkey_caller;
grant insert (name, description) on latchkey.roles to latchkey_caller;
grant update (description, updated_at) on latchkey.roles to latchkey_caller;
grant delete on latchkey.roles to latchkey_caller;

grant insert (name, description, built_in) on latchkey.permissions to latchkey_caller;
grant update (description, updated_at) on latchkey.permissions to latchkey_caller;
grant delete on latchkey.permissions to latchkey_caller;
grant insert (role, permission), delete on latchkey.role_permissions to latchkey_caller;

grant insert (name, description) on latchkey.org_roles to latchkey_caller;
grant update (description, updated_at) on latchkey.org_roles to latchkey_caller;
grant delete on latchkey.org_roles to latchkey_caller;
grant insert (role, permission), delete on latchkey.org_role_permissions to latchkey_caller;

do $$
declare
  v_table text;
begin
  foreach v_table in array array['roles', 'permissions', 'role_permissions', 'org_roles',
    'org_role_permissions']
  loop
    execute pg_catalog.format('drop policy if exists %I on latchkey.%I',
      'Latchkey''s own functions manage ' || pg_catalog.replace(v_table, '_', ' '), v_table);
    execute pg_catalog.format(
      'create policy %I on latchkey.%I to current_user using (true) with check (true)',
      'Latchkey''s own functions manage ' || pg_catalog.replace(v_table, '_', ' '), v_table);
  end loop;
end
$$;

drop policy if exists "Callers read the roles" on latchkey.roles;
create policy "Callers read the roles" on latchkey.roles
  for select to latchkey_caller using (true);
drop policy if exists "Role writers create roles" on latchkey.roles;
create policy "Role writers create roles" on latchkey.roles
  for insert to latchkey_caller
  with check ((select latchkey.caller_has_permission('roles:write')) and not built_in);
drop policy if exists "Role writers describe roles within their reach" on latchkey.roles;
create policy "Role writers describe roles within their reach" on latchkey.roles
  for update to latchkey_caller
  using ((select latchkey.caller_has_permission('roles:write'))
    and latchkey.caller_reaches_role(name))
  with check ((select latchkey.caller_has_permission('roles:write'))
    and latchkey.caller_reaches_role(name));
drop policy if exists "Role writers delete their own roles within their reach" on latchkey.roles;
create policy "Role writers delete their own roles within their reach" on latchkey.roles
  for delete to latchkey_caller
  using ((select latchkey.caller_has_permission('roles:write')) and not built_in
    and latchkey.caller_reaches_role(name));

drop policy if exists "Callers read what each permission means" on latchkey.permissions;
create policy "Callers read what each permission means" on latchkey.permissions
  for select to latchkey_caller using (true);
drop policy if exists "Role writers add the team's permissions" on latchkey.permissions;
create policy "Role writers add the team's permissions" on latchkey.permissions
  for insert to latchkey_caller
  with check ((select latchkey.caller_has_permission('roles:write')) and not built_in
    and not latchkey.reserved_permission_resource(name));
-- Describing or deleting a permission changes what admin (who holds them all) holds: only a
-- writer holding it may (and a role other than admin holding it blocks the deletion anyway).
drop policy if exists "Role writers describe the team's permissions" on latchkey.permissions;
drop policy if exists "Role writers describe the team's permissions they hold"
  on latchkey.permissions;
create policy "Role writers describe the team's permissions they hold" on latchkey.permissions
  for update to latchkey_caller
  using ((select latchkey.caller_has_permission('roles:write')) and not built_in
    and latchkey.caller_has_permission(name))
  with check ((select latchkey.caller_has_permission('roles:write')) and not built_in
    and latchkey.caller_has_permission(name));
drop policy if exists "Role writers delete the team's permissions" on latchkey.permissions;
drop policy if exists "Role writers delete the team's permissions they hold"
  on latchkey.permissions;
create policy "Role writers delete the team's permissions they hold" on latchkey.permissions
  for delete to latchkey_caller
  using ((select latchkey.caller_has_permission('roles:write')) and not built_in
    and latchkey.caller_has_permission(name));

-- The reach rule on a role's rows: the writer holds the permission it adds, and reaches the
-- role (holds every permission it held before: so also the one it removes). admin's rows are
-- the catalogue's.
drop policy if exists "Callers read which role holds which permission"
  on latchkey.role_permissions;
create policy "Callers read which role holds which permission" on latchkey.role_permissions
  for select to latchkey_caller using (true);
drop policy if exists "Role writers grant what they hold to roles they reach"
  on latchkey.role_permissions;
create policy "Role writers grant what they hold to roles they reach"
  on latchkey.role_permissions
  for insert to latchkey_caller
  with check ((select latchkey.caller_has_permission('roles:write')) and role <> 'admin'
    and latchkey.caller_has_permission(permission) and latchkey.caller_reaches_role(role));
drop policy if exists "Role writers take permissions from roles they reach"
  on latchkey.role_permissions;
create policy "Role writers take permissions from roles they reach"
  on latchkey.role_permissions
  for delete to latchkey_caller
  using ((select latchkey.caller_has_permission('roles:write')) and role <> 'admin'
    and latchkey.caller_reaches_role(role));

-- Organization roles change what members may do in every organization: their definitions need
-- orgs:write (the platform's power over organizations) besides roles:write. Inside an
-- organization the reach rule applies where roles are given (invitations, role changes), custom
-- ones as built-in ones. owner holds every organization permission: its set is fixed.
drop policy if exists "Callers read the organization roles" on latchkey.org_roles;
create policy "Callers read the organization roles" on latchkey.org_roles
  for select to latchkey_caller using (true);
drop policy if exists "Role and org writers create organization roles" on latchkey.org_roles;
create policy "Role and org writers create organization roles" on latchkey.org_roles
  for insert to latchkey_caller
  with check ((select latchkey.caller_has_permission('roles:write'))
    and (select latchkey.caller_has_permission('orgs:write')) and not built_in);
drop policy if exists "Role and org writers describe organization roles" on latchkey.org_roles;
create policy "Role and org writers describe organization roles" on latchkey.org_roles
  for update to latchkey_caller
  using ((select latchkey.caller_has_permission('roles:write'))
    and (select latchkey.caller_has_permission('orgs:write')))
  with check ((select latchkey.caller_has_permission('roles:write'))
    and (select latchkey.caller_has_permission('orgs:write')));
drop policy if exists "Role and org writers delete custom organization roles"
  on latchkey.org_roles;
create policy "Role and org writers delete custom organization roles" on latchkey.org_roles
  for delete to latchkey_caller
  using ((select latchkey.caller_has_permission('roles:write'))
    and (select latchkey.caller_has_permission('orgs:write')) and not built_in);

drop policy if exists "Callers read which organization role holds which permission"
  on latchkey.org_role_permissions;
create policy "Callers read which organization role holds which permission"
  on latchkey.org_role_permissions
  for select to latchkey_caller using (true);
drop policy if exists "Role and org writers grant organization permissions to roles"
  on latchkey.org_role_permissions;
create policy "Role and org writers grant organization permissions to roles"
  on latchkey.org_role_permissions
  for insert to latchkey_caller
  with check ((select latchkey.caller_has_permission('roles:write'))
    and (select latchkey.caller_has_permission('orgs:write')) and role <> 'owner');
drop policy if exists "Role and org writers take organization permissions from roles"
  on latchkey.org_role_permissions;
create policy "Role and org writers take organization permissions from roles"
  on latchkey.org_role_permissions
  for delete to latchkey_caller
  using ((select latchkey.caller_has_permission('roles:write'))
    and (select latchkey.caller_has_permission('orgs:write')) and role <> 'owner');
