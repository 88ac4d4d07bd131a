-- Organizations (issue 29, item 1): an account creates one and becomes its owner; members have
-- an organization role; invitations go by mail (single-use, expiring, stored as SHA-256) and are
-- accepted by a session of the invited, verified address; members leave, are removed, change
-- roles; ownership moves; the platform's staff list, read and suspend organizations.
--
-- PostgreSQL decides. Who is a member and with which role is read from the memberships by the
-- caller's user id (`latchkey.caller_org_role`), never from anything a route says; what a role
-- may do is a row of latchkey.org_role_permissions. Roles are referenced by name, so the custom
-- organization roles of item 3 are more rows of org_roles with their permission sets, and the
-- reach rule already compares permission sets, not ranks: nobody gives, or acts on, an
-- organization role holding a permission their own role lacks. An organization always has an
-- owner: the guard trigger locks the organization's row before it counts the owners left, so two
-- owners demoting each other at once are serialised and the second is refused.

-- The platform's staff: support reads organizations as it reads users, admins also suspend.
insert into latchkey.permissions (name, description) values
  ('orgs:read', 'List and read every organization and its members'),
  ('orgs:write', 'Suspend and unsuspend organizations')
on conflict (name) do update set description = excluded.description;
insert into latchkey.role_permissions (role, permission) values
  ('support', 'orgs:read'), ('admin', 'orgs:read'), ('admin', 'orgs:write')
on conflict do nothing;

-- What an organization role may do inside its organization (not platform permissions: a key's
-- scopes are checked against latchkey.permissions, which these are not).
create table if not exists latchkey.org_permissions (
  name text primary key check (name ~ '^[a-z]+:[a-z]+$'),
  description text not null
);
insert into latchkey.org_permissions (name, description) values
  ('org:read', 'See the organization and its members'),
  ('org:write', 'Rename the organization or change its slug'),
  ('org:delete', 'Delete the organization'),
  ('members:invite', 'Invite people by email, with a role the inviter reaches'),
  ('members:write', 'Change members'' roles and remove members the remover reaches')
on conflict (name) do update set description = excluded.description;

-- Organization roles, the same in every organization. Built-in ones (owner, admin, member) are
-- made here; custom ones (item 3) are rows with built_in false.
create table if not exists latchkey.org_roles (
  name text primary key check (name ~ '^[a-z][a-z0-9_-]{0,31}$'),
  description text not null,
  built_in boolean not null default false
);
insert into latchkey.org_roles (name, description, built_in) values
  ('owner', 'Everything, deleting the organization and making owners included', true),
  ('admin', 'Manages the organization and its members, owners aside', true),
  ('member', 'Sees the organization and its members', true)
on conflict (name) do update set description = excluded.description, built_in = true;

create table if not exists latchkey.org_role_permissions (
  role text not null references latchkey.org_roles (name) on update cascade on delete cascade,
  permission text not null references latchkey.org_permissions (name) on update cascade,
  primary key (role, permission)
);
create index if not exists org_role_permissions_permission_idx
  on latchkey.org_role_permissions (permission);
insert into latchkey.org_role_permissions (role, permission) values
  ('owner', 'org:read'), ('owner', 'org:write'), ('owner', 'org:delete'),
  ('owner', 'members:invite'), ('owner', 'members:write'),
  ('admin', 'org:read'), ('admin', 'org:write'), ('admin', 'members:invite'),
  ('admin', 'members:write'),
  ('member', 'org:read')
on conflict do nothing;

create table if not exists latchkey.organizations (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(name) between 1 and 200),
  slug text not null check (slug ~ '^[a-z0-9]([a-z0-9-]{0,46}[a-z0-9])?$'),
  created_by uuid references latchkey.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  suspended_at timestamptz,
  suspension_reason text check (length(suspension_reason) <= 500),
  search_text text generated always as (lower(name || ' ' || slug)) stored
);
create unique index if not exists organizations_slug_key on latchkey.organizations (slug);
create index if not exists organizations_created_at_id_idx
  on latchkey.organizations (created_at, id);
create index if not exists organizations_suspended_created_at_id_idx
  on latchkey.organizations (created_at, id) where suspended_at is not null;
create index if not exists organizations_created_by_idx on latchkey.organizations (created_by);

create table if not exists latchkey.org_memberships (
  org_id uuid not null references latchkey.organizations (id) on delete cascade,
  user_id uuid not null references latchkey.users (id) on delete cascade,
  role text not null references latchkey.org_roles (name) on update cascade,
  -- A row id of its own, for the member list's cursor (created_at, id) as every list has.
  id uuid not null default gen_random_uuid() unique,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (org_id, user_id)
);
create index if not exists org_memberships_org_id_created_at_id_idx
  on latchkey.org_memberships (org_id, created_at, id);
create index if not exists org_memberships_user_id_created_at_id_idx
  on latchkey.org_memberships (user_id, created_at, id);
create index if not exists org_memberships_role_idx on latchkey.org_memberships (role);

create table if not exists latchkey.org_invitations (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null references latchkey.organizations (id) on delete cascade,
  email text not null check (length(email) between 3 and 320),
  role text not null references latchkey.org_roles (name) on update cascade,
  token_hash bytea not null unique check (length(token_hash) = 32),
  invited_by uuid references latchkey.users (id) on delete set null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  accepted_at timestamptz,
  accepted_by uuid references latchkey.users (id) on delete set null,
  revoked_at timestamptz
);
-- One open invitation per address and organization: inviting again replaces it.
create unique index if not exists org_invitations_open_key
  on latchkey.org_invitations (org_id, lower(email))
  where accepted_at is null and revoked_at is null;
create index if not exists org_invitations_org_id_created_at_id_idx
  on latchkey.org_invitations (org_id, created_at, id);
create index if not exists org_invitations_role_idx on latchkey.org_invitations (role);
create index if not exists org_invitations_invited_by_idx on latchkey.org_invitations (invited_by);
create index if not exists org_invitations_accepted_by_idx
  on latchkey.org_invitations (accepted_by);

-- Invitations leave through the outbox like account mail. NOT VALID: the rows already there are
-- not checked again, so running this migration again after a later one widened the list (account
-- notifications, 20261210000300) does not fail on their rows; that later one validates its own.
alter table latchkey.mail_outbox drop constraint if exists mail_outbox_kind_check;
alter table latchkey.mail_outbox add constraint mail_outbox_kind_check
  check (kind in ('password_reset', 'email_verification', 'org_invitation')) not valid;

-- The caller's role in an organization: a session's membership, nothing for anyone else (an API
-- key reaches no organization until organization keys exist, item 2), nor for a session that
-- still owes its role's second factor (as caller_has_permission grants it nothing).
create or replace function latchkey.caller_org_role(p_org_id uuid)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select m.role from latchkey.org_memberships m
  where m.org_id = p_org_id and m.user_id = latchkey.current_user_id()
    and latchkey.current_principal_kind() = 'session'
    and not latchkey.caller_awaits_second_factor()
$$;
revoke all on function latchkey.caller_org_role(uuid) from public;
grant execute on function latchkey.caller_org_role(uuid) to latchkey_caller;

create or replace function latchkey.org_role_has_permission(p_role text, p_permission text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select from latchkey.org_role_permissions rp
    where rp.role = p_role and rp.permission = p_permission
  )
$$;
revoke all on function latchkey.org_role_has_permission(text, text) from public;
grant execute on function latchkey.org_role_has_permission(text, text) to latchkey_caller;

create or replace function latchkey.caller_has_org_permission(p_org_id uuid, p_permission text)
returns boolean
language sql
stable
set search_path = ''
as $$
  select coalesce(
    latchkey.org_role_has_permission(latchkey.caller_org_role(p_org_id), p_permission), false)
$$;
revoke all on function latchkey.caller_has_org_permission(uuid, text) from public;
grant execute on function latchkey.caller_has_org_permission(uuid, text) to latchkey_caller;

-- The caller's organization permissions, for answers that say what the caller may do.
create or replace function latchkey.caller_org_permissions(p_org_id uuid)
returns text[]
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(array_agg(rp.permission order by rp.permission), '{}')
  from latchkey.org_role_permissions rp
  where rp.role = latchkey.caller_org_role(p_org_id)
$$;
revoke all on function latchkey.caller_org_permissions(uuid) from public;
grant execute on function latchkey.caller_org_permissions(uuid) to latchkey_caller;

-- The reach rule inside an organization: a member reaches a role when their own role holds
-- every permission it holds. Nobody gives, nor changes or removes a member of, a role beyond it.
create or replace function latchkey.caller_reaches_org_role(p_org_id uuid, p_role text)
returns boolean
language sql
stable
set search_path = ''
as $$
  select latchkey.caller_org_role(p_org_id) is not null and not exists (
    select from latchkey.org_role_permissions rp
    where rp.role = p_role and not latchkey.caller_has_org_permission(p_org_id, rp.permission)
  )
$$;
revoke all on function latchkey.caller_reaches_org_role(uuid, text) from public;
grant execute on function latchkey.caller_reaches_org_role(uuid, text) to latchkey_caller;

create or replace function latchkey.org_is_suspended(p_org_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select from latchkey.organizations o where o.id = p_org_id and o.suspended_at is not null
  )
$$;
revoke all on function latchkey.org_is_suspended(uuid) from public;
grant execute on function latchkey.org_is_suspended(uuid) to latchkey_caller;

-- Who may read an organization's rows: its members, and the staff holding orgs:read.
create or replace function latchkey.caller_reads_org(p_org_id uuid)
returns boolean
language sql
stable
set search_path = ''
as $$
  select latchkey.caller_org_role(p_org_id) is not null
    or latchkey.caller_has_permission('orgs:read')
$$;
revoke all on function latchkey.caller_reads_org(uuid) from public;
grant execute on function latchkey.caller_reads_org(uuid) to latchkey_caller;

-- A member's name and address, to whoever may read the organization: a member cannot read other
-- accounts' rows (latchkey.users), only what membership shows of them.
create or replace function latchkey.org_member_profile(p_org_id uuid, p_user_id uuid)
returns table (name text, email text)
language sql
stable
security definer
set search_path = ''
as $$
  select u.name, u.email
  from latchkey.org_memberships m join latchkey.users u on u.id = m.user_id
  where m.org_id = p_org_id and m.user_id = p_user_id and latchkey.caller_reads_org(p_org_id)
$$;
revoke all on function latchkey.org_member_profile(uuid, uuid) from public;
grant execute on function latchkey.org_member_profile(uuid, uuid) to latchkey_caller;

alter table latchkey.org_permissions enable row level security;
alter table latchkey.org_permissions force row level security;
alter table latchkey.org_roles enable row level security;
alter table latchkey.org_roles force row level security;
alter table latchkey.org_role_permissions enable row level security;
alter table latchkey.org_role_permissions force row level security;
alter table latchkey.organizations enable row level security;
alter table latchkey.organizations force row level security;
alter table latchkey.org_memberships enable row level security;
alter table latchkey.org_memberships force row level security;
alter table latchkey.org_invitations enable row level security;
alter table latchkey.org_invitations force row level security;

revoke all on latchkey.org_permissions, latchkey.org_roles, latchkey.org_role_permissions,
  latchkey.organizations, latchkey.org_memberships, latchkey.org_invitations
  from public, anon, authenticated, service_role, latchkey_caller;

-- The catalogue is readable, so anyone can see what a role means; changed only by migrations
-- (and, with item 3, by the admin API's own functions).
grant select on latchkey.org_permissions, latchkey.org_roles, latchkey.org_role_permissions
  to latchkey_caller;
drop policy if exists "Callers read what each organization permission means"
  on latchkey.org_permissions;
create policy "Callers read what each organization permission means"
  on latchkey.org_permissions for select to latchkey_caller, current_user using (true);
drop policy if exists "Callers read the organization roles" on latchkey.org_roles;
create policy "Callers read the organization roles"
  on latchkey.org_roles for select to latchkey_caller, current_user using (true);
drop policy if exists "Callers read which organization role holds which permission"
  on latchkey.org_role_permissions;
create policy "Callers read which organization role holds which permission"
  on latchkey.org_role_permissions for select to latchkey_caller, current_user using (true);

-- Organizations: members read theirs, org:write changes an active one's name and slug, org:delete
-- deletes an active one; staff with orgs:read read all and with orgs:write suspend. Created only
-- through latchkey.create_organization (the row and its owner's membership together).
grant select (id, name, slug, created_by, created_at, updated_at, suspended_at,
  suspension_reason) on latchkey.organizations to latchkey_caller;
grant update (name, slug, updated_at, suspended_at, suspension_reason)
  on latchkey.organizations to latchkey_caller;
grant delete on latchkey.organizations to latchkey_caller;
drop policy if exists "Latchkey's own functions manage organizations" on latchkey.organizations;
create policy "Latchkey's own functions manage organizations"
  on latchkey.organizations to current_user using (true) with check (true);
drop policy if exists "Members read their organizations, org readers every one"
  on latchkey.organizations;
create policy "Members read their organizations, org readers every one"
  on latchkey.organizations for select to latchkey_caller
  using (latchkey.caller_reads_org(id));
drop policy if exists "Org admins change their active organization, org writers suspend"
  on latchkey.organizations;
create policy "Org admins change their active organization, org writers suspend"
  on latchkey.organizations for update to latchkey_caller
  using (
    (suspended_at is null and latchkey.caller_has_org_permission(id, 'org:write'))
    or (select latchkey.caller_has_permission('orgs:write'))
  )
  with check (
    (suspended_at is null and suspension_reason is null
      and latchkey.caller_has_org_permission(id, 'org:write'))
    or (select latchkey.caller_has_permission('orgs:write'))
  );
drop policy if exists "Owners delete their active organization" on latchkey.organizations;
create policy "Owners delete their active organization"
  on latchkey.organizations for delete to latchkey_caller
  using (suspended_at is null and latchkey.caller_has_org_permission(id, 'org:delete'));

-- Memberships: read by whoever reads the organization; a role changed and a member removed by
-- members:write within the changer's reach (the new role too), and any member leaves; nothing
-- while the organization is suspended. Added only by create_organization and
-- accept_org_invitation.
grant select (org_id, user_id, role, id, created_at, updated_at)
  on latchkey.org_memberships to latchkey_caller;
grant update (role, updated_at) on latchkey.org_memberships to latchkey_caller;
grant delete on latchkey.org_memberships to latchkey_caller;
drop policy if exists "Latchkey's own functions manage memberships" on latchkey.org_memberships;
create policy "Latchkey's own functions manage memberships"
  on latchkey.org_memberships to current_user using (true) with check (true);
drop policy if exists "Members read their organization's members, org readers all"
  on latchkey.org_memberships;
create policy "Members read their organization's members, org readers all"
  on latchkey.org_memberships for select to latchkey_caller
  using (latchkey.caller_reads_org(org_id));
drop policy if exists "Member writers change roles within their reach, while active"
  on latchkey.org_memberships;
create policy "Member writers change roles within their reach, while active"
  on latchkey.org_memberships for update to latchkey_caller
  using (
    not latchkey.org_is_suspended(org_id)
    and latchkey.caller_has_org_permission(org_id, 'members:write')
    and latchkey.caller_reaches_org_role(org_id, role)
  )
  with check (
    not latchkey.org_is_suspended(org_id)
    and latchkey.caller_has_org_permission(org_id, 'members:write')
    and latchkey.caller_reaches_org_role(org_id, role)
  );
drop policy if exists "Members leave, member writers remove within their reach, while active"
  on latchkey.org_memberships;
create policy "Members leave, member writers remove within their reach, while active"
  on latchkey.org_memberships for delete to latchkey_caller
  using (
    not latchkey.org_is_suspended(org_id) and (
      (user_id = (select latchkey.current_user_id())
        and latchkey.caller_org_role(org_id) is not null)
      or (latchkey.caller_has_org_permission(org_id, 'members:write')
        and latchkey.caller_reaches_org_role(org_id, role))
    )
  );

-- Invitations: read (never their token's hash) by the organization's inviters and by org
-- readers; written only by invite_to_organization and accept_org_invitation.
grant select (id, org_id, email, role, invited_by, created_at, expires_at, accepted_at,
  accepted_by, revoked_at) on latchkey.org_invitations to latchkey_caller;
drop policy if exists "Latchkey's own functions manage invitations" on latchkey.org_invitations;
create policy "Latchkey's own functions manage invitations"
  on latchkey.org_invitations to current_user using (true) with check (true);
drop policy if exists "Inviters read their organization's invitations, org readers all"
  on latchkey.org_invitations;
create policy "Inviters read their organization's invitations, org readers all"
  on latchkey.org_invitations for select to latchkey_caller
  using (
    latchkey.caller_has_org_permission(org_id, 'members:invite')
    or (select latchkey.caller_has_permission('orgs:read'))
  );

-- An organization always has an owner. The organization's row is locked before the owners are
-- counted, so changes to its owners are serialised: of two owners demoting (or removing) each
-- other at once, the second waits for the first, then counts afresh and is refused. An
-- organization being deleted (its row gone in this transaction) takes its memberships along.
create or replace function latchkey.keep_an_org_owner()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if old.role = 'owner' and (tg_op = 'DELETE' or new.role <> 'owner') then
    perform from latchkey.organizations o where o.id = old.org_id for update;
    if found and not exists (
      select from latchkey.org_memberships m
      where m.org_id = old.org_id and m.role = 'owner' and m.user_id <> old.user_id
    ) then
      raise exception 'organization % would have no owner: make another member owner first',
        old.org_id using errcode = 'P0001', hint = 'last_owner';
    end if;
  end if;
  return case when tg_op = 'DELETE' then old else new end;
end
$$;
revoke all on function latchkey.keep_an_org_owner() from public;
drop trigger if exists org_memberships_keep_an_owner on latchkey.org_memberships;
create trigger org_memberships_keep_an_owner
  before update of role or delete on latchkey.org_memberships
  for each row execute function latchkey.keep_an_org_owner();

-- A new organization and its owner's membership, audited: for a session only.
create or replace function latchkey.create_organization(p_name text, p_slug text)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user_id uuid := latchkey.current_user_id();
  v_id uuid;
begin
  if v_user_id is null or latchkey.current_principal_kind() <> 'session'
    or latchkey.caller_awaits_second_factor()
  then
    raise exception 'creating an organization needs a session' using errcode = '42501';
  end if;
  insert into latchkey.organizations (name, slug, created_by)
  values (p_name, p_slug, v_user_id)
  returning id into v_id;
  insert into latchkey.org_memberships (org_id, user_id, role) values (v_id, v_user_id, 'owner');
  perform latchkey.record_audit_event('org.created', 'organization', v_id,
    pg_catalog.jsonb_build_object('name', p_name, 'slug', p_slug));
  return v_id;
end
$$;
revoke all on function latchkey.create_organization(text, text) from public;
grant execute on function latchkey.create_organization(text, text) to latchkey_caller;

-- An invitation and its mail, in one transaction: by a member holding members:invite, to a role
-- they reach, in an active organization, for an address that is not a member's. An open
-- invitation to the same address is revoked (its link stops working). Returns its id.
create or replace function latchkey.invite_to_organization(
  p_org_id uuid,
  p_email text,
  p_role text,
  p_token_hash bytea,
  p_expires_at timestamptz,
  p_subject text,
  p_text text,
  p_html text
)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_id uuid;
  v_replaced integer;
begin
  if not latchkey.caller_has_org_permission(p_org_id, 'members:invite') then
    raise exception 'inviting needs members:invite in this organization'
      using errcode = '42501';
  end if;
  if latchkey.org_is_suspended(p_org_id) then
    raise exception 'organization % is suspended', p_org_id
      using errcode = 'P0001', hint = 'org_suspended';
  end if;
  if not exists (select from latchkey.org_roles r where r.name = p_role)
    or not latchkey.caller_reaches_org_role(p_org_id, p_role)
  then
    raise exception 'nobody invites to an organization role beyond their own'
      using errcode = '42501';
  end if;
  if exists (
    select from latchkey.org_memberships m join latchkey.users u on u.id = m.user_id
    where m.org_id = p_org_id and u.email_lower = lower(p_email)
  ) then
    raise exception 'the address is a member already' using errcode = 'P0001',
      hint = 'already_member';
  end if;
  update latchkey.org_invitations i set revoked_at = pg_catalog.now()
  where i.org_id = p_org_id and lower(i.email) = lower(p_email)
    and i.accepted_at is null and i.revoked_at is null;
  get diagnostics v_replaced = row_count;
  insert into latchkey.org_invitations (org_id, email, role, token_hash, invited_by, expires_at)
  values (p_org_id, p_email, p_role, p_token_hash, latchkey.current_user_id(), p_expires_at)
  returning id into v_id;
  insert into latchkey.mail_outbox (kind, recipient, subject, text_body, html_body)
  values ('org_invitation', p_email, p_subject, p_text, p_html);
  perform latchkey.record_audit_event('org.member_invited', 'organization', p_org_id,
    pg_catalog.jsonb_build_object('invitationId', v_id, 'email', p_email, 'role', p_role,
      'replaced', v_replaced));
  return v_id;
end
$$;
revoke all on function latchkey.invite_to_organization(uuid, text, text, bytea, timestamptz,
  text, text, text) from public;
grant execute on function latchkey.invite_to_organization(uuid, text, text, bytea, timestamptz,
  text, text, text) to latchkey_caller;

-- Accepting an invitation, by a session of the invited address, verified: an outcome, not an
-- exception, so a refusal is audited. `invalid_token`: no such open, unexpired invitation;
-- `other_address`: the session's account is not the invited address (the invitation stays open
-- for its owner); `email_not_verified`; `org_suspended`; `already_member` (the invitation is
-- spent); `accepted`.
create or replace function latchkey.accept_org_invitation(p_token_hash bytea)
returns table (outcome text, org_id uuid, role text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_invitation latchkey.org_invitations;
  v_user latchkey.users;
  v_outcome text;
begin
  if latchkey.current_user_id() is null or latchkey.current_principal_kind() <> 'session'
    or latchkey.caller_awaits_second_factor()
  then
    raise exception 'accepting an invitation needs a session' using errcode = '42501';
  end if;
  select * into v_invitation from latchkey.org_invitations i
  where i.token_hash = p_token_hash
  for update;
  if not found or v_invitation.accepted_at is not null or v_invitation.revoked_at is not null
    or v_invitation.expires_at <= pg_catalog.now()
  then
    return query select 'invalid_token'::text, null::uuid, null::text;
    return;
  end if;
  select * into v_user from latchkey.users u where u.id = latchkey.current_user_id();
  if v_user.email_lower <> lower(v_invitation.email) then
    v_outcome := 'other_address';
  elsif v_user.email_verified_at is null then
    v_outcome := 'email_not_verified';
  elsif latchkey.org_is_suspended(v_invitation.org_id) then
    v_outcome := 'org_suspended';
  end if;
  if v_outcome is not null then
    perform latchkey.record_audit_event('org.invitation_refused', 'organization',
      v_invitation.org_id, pg_catalog.jsonb_build_object('invitationId', v_invitation.id,
        'reason', v_outcome));
    return query select v_outcome, v_invitation.org_id, null::text;
    return;
  end if;
  update latchkey.org_invitations i set accepted_at = pg_catalog.now(), accepted_by = v_user.id
  where i.id = v_invitation.id;
  insert into latchkey.org_memberships (org_id, user_id, role)
  values (v_invitation.org_id, v_user.id, v_invitation.role)
  on conflict on constraint org_memberships_pkey do nothing;
  if not found then
    return query select 'already_member'::text, v_invitation.org_id, null::text;
    return;
  end if;
  perform latchkey.record_audit_event('org.member_added', 'organization', v_invitation.org_id,
    pg_catalog.jsonb_build_object('userId', v_user.id, 'role', v_invitation.role,
      'invitationId', v_invitation.id, 'invitedBy', v_invitation.invited_by));
  return query select 'accepted'::text, v_invitation.org_id, v_invitation.role;
end
$$;
revoke all on function latchkey.accept_org_invitation(bytea) from public;
grant execute on function latchkey.accept_org_invitation(bytea) to latchkey_caller;
