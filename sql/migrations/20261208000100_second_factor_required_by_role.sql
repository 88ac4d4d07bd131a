-- Second factors, third increment (issue 28, item 3): required by role. The caller state
-- (`latchkey.caller`, set by withCaller from the authenticated principal) now carries the
-- session's assurance (`aal`) and `mfa_required`: the session's role is one of
-- LATCHKEY_MFA_REQUIRED_ROLES and it has not verified a second factor. The HTTP layer answers such
-- a session 403 mfa_required on every route but those leading to a factor; here, the database
-- grants it no permission at all, so a route that forgot to ask cannot lend it power.

-- The caller's assurance: a session's level, aal1 unless the caller state says aal2; null for an
-- API key, the admin key, a challenge or nobody (they are not sessions).
create or replace function latchkey.current_aal()
returns text
language sql
stable
set search_path = ''
as $$
  select case when latchkey.current_principal_kind() = 'session' then
    case when latchkey.current_caller() ->> 'aal' = 'aal2' then 'aal2' else 'aal1' end
  end
$$;
revoke all on function latchkey.current_aal() from public;
grant execute on function latchkey.current_aal() to latchkey_caller;

-- A session at aal1 whose role must use a second factor. Fails closed: a session caller state
-- that does not say `"mfa_required": false` counts as awaiting one until it says aal2.
create or replace function latchkey.caller_awaits_second_factor()
returns boolean
language sql
stable
set search_path = ''
as $$
  select coalesce(latchkey.current_aal() = 'aal1'
    and (latchkey.current_caller() -> 'mfa_required') is distinct from 'false'::jsonb, false)
$$;
revoke all on function latchkey.caller_awaits_second_factor() from public;
grant execute on function latchkey.caller_awaits_second_factor() to latchkey_caller;

-- The caller's role must grant the permission, and so must its effective permissions (an API
-- key's scopes within its owner's role); and a session whose role needs a second factor holds
-- none until it has verified one. Every policy and function that grants power asks this (or
-- caller_reaches_role, caller_reaches_user and caller_holds_scopes, which ask it).
create or replace function latchkey.caller_has_permission(p_permission text)
returns boolean
language sql
stable
set search_path = ''
as $$
  select not latchkey.caller_awaits_second_factor()
    and latchkey.role_has_permission(latchkey.current_app_role(), p_permission)
    and coalesce((latchkey.current_caller() -> 'permissions') ? p_permission, false)
$$;

-- The role alone, as the first policies asked it: not while a second factor is awaited either.
create or replace function latchkey.caller_has_role(variadic p_roles text[])
returns boolean
language sql
stable
set search_path = ''
as $$
  select latchkey.current_app_role() = any (p_roles)
    and not latchkey.caller_awaits_second_factor()
$$;

-- Admin permissions on a key must be held by whoever grants them; application scopes are free.
-- A session grants an admin permission only at aal2, whatever its role: the key outlives the
-- session and asks nobody for a second factor, so minting one at aal1 would turn a phished
-- password into lasting power. (Keys and the admin key mint for machines, as before.)
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
        or latchkey.current_aal() is not distinct from 'aal1')
  )
$$;
