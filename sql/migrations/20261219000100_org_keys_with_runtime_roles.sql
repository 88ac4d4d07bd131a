-- Organizations' keys (20261211000100) with roles and permissions at runtime (20261212000100):
-- one rule for what a key holds, computed here and used by verification, by Latchkey's routes
-- and by minted tokens alike. A key's catalogue permissions are its scopes within what its owner
-- may grant now: a user's key, its owner's role's rows; an organization's key, the
-- organization's ceiling (`organizations.key_permissions`, or by default what the platform role
-- user holds). An organization's key never holds one of Latchkey's own permissions: those are
-- staff powers, a person's, through a role (its key acts for the organization, no person). The
-- application scopes (LATCHKEY_SCOPES) are configuration, which the service adds.
--
-- Redefines latchkey.org_key_ceiling_allows and latchkey.set_org_key_permissions (made by
-- 20261211000100) to read the ceiling through latchkey.org_key_ceiling, and
-- latchkey.current_idempotency_owner so that keys without a user do not share one owner.

-- The team's permissions an organization's keys may hold, as the catalogue has them now: those of
-- its ceiling, or by default those role user holds. PL/pgSQL, whose plans a connection keeps: the
-- key check calls it for every organization's key carrying a permission.
create or replace function latchkey.org_key_ceiling(p_key_permissions text[])
returns text[]
language plpgsql
stable
set search_path = ''
as $$
begin
  if p_key_permissions is null then
    return coalesce((
      select pg_catalog.array_agg(rp.permission order by rp.permission)
      from latchkey.role_permissions rp
      join latchkey.permissions p on p.name = rp.permission
      where rp.role = 'user' and not p.built_in
    ), '{}');
  end if;
  return coalesce((
    select pg_catalog.array_agg(p.name order by p.name)
    from latchkey.permissions p
    where p.name = any (p_key_permissions) and not p.built_in
  ), '{}');
end
$$;
revoke all on function latchkey.org_key_ceiling(text[]) from public;
grant execute on function latchkey.org_key_ceiling(text[]) to latchkey_caller;

-- The catalogue permissions a key holds now (its effective permissions): its scopes within its
-- owner's role (p_org_id null), or within its organization's ceiling. The key check calls it in
-- its one statement, so a demotion, a permission taken from a role or a narrowed ceiling binds
-- the next request.
create or replace function latchkey.key_permission_names(
  p_scopes text[],
  p_user_role text,
  p_org_id uuid,
  p_org_key_permissions text[]
)
returns text[]
language plpgsql
stable
set search_path = ''
as $$
declare
  v_grantable text[];
begin
  v_grantable := case
    when p_org_id is null then latchkey.role_permission_names(p_user_role)
    else latchkey.org_key_ceiling(p_org_key_permissions)
  end;
  return array(
    select s.scope from pg_catalog.unnest(p_scopes) as s (scope)
    where s.scope = any (v_grantable) order by s.scope
  );
end
$$;
revoke all on function latchkey.key_permission_names(text[], text, uuid, text[]) from public;
grant execute on function latchkey.key_permission_names(text[], text, uuid, text[])
  to latchkey_caller;

-- Whether an organization lets its keys hold every one of these scopes: within its list (when it
-- has one), and no catalogue permission beyond its ceiling's team permissions (Latchkey's own
-- never). Application scopes are not the database's to know: the service checks them.
create or replace function latchkey.org_key_ceiling_allows(p_org_id uuid, p_scopes text[])
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select (o.key_permissions is null or p_scopes <@ o.key_permissions)
    and not exists (
      select from latchkey.permissions p
      where p.name = any (p_scopes)
        and not p.name = any (latchkey.org_key_ceiling(o.key_permissions))
    )
  from latchkey.organizations o where o.id = p_org_id
$$;
revoke all on function latchkey.org_key_ceiling_allows(uuid, text[]) from public;
grant execute on function latchkey.org_key_ceiling_allows(uuid, text[]) to latchkey_caller;

-- The ceiling, by platform staff with orgs:write, and only of what they hold themselves (the
-- reach rule: nobody lets an organization grant what they could not), never one of Latchkey's own
-- permissions. Null: the default again. False when there is no such organization.
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
  if exists (
    select from latchkey.permissions p where p.name = any (p_permissions) and p.built_in
  ) then
    raise exception 'an organization''s keys never hold Latchkey''s own permissions'
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

-- Whose idempotency records a caller reads and writes: a user's, or the kind of a credential
-- with no user. Every organization's key has no user, so each is its own owner (by its id):
-- one organization's key never sees another's stored answers.
create or replace function latchkey.current_idempotency_owner()
returns text
language sql
stable
set search_path = ''
as $$
  select coalesce(
    latchkey.current_user_id()::text,
    case when latchkey.current_principal_kind() = 'api_key'
      then 'api_key:' || latchkey.current_credential_id()::text end,
    latchkey.current_principal_kind()
  )
$$;
