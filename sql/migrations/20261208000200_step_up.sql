-- Second factors, step-up (issue 28, item 4): dangerous actions need a second factor verified
-- within LATCHKEY_STEP_UP_MINUTES when the caller is a session. The caller state carries when
-- the session last verified one (`second_factor_at`, epoch seconds, from its amr) and the window
-- (`step_up_seconds`); the database refuses the dangerous changes itself, whichever route or
-- function makes them, so a route that forgot its declaration still cannot change a role,
-- another account's password, mint an admin-scoped key, delete an account or drop a factor.
-- API keys and the X-Admin-Key are machines with no second factor to ask for: they pass (an
-- admin-scoped key was itself minted with a step-up). Reading the audit log out (the export)
-- changes nothing the database could guard: the route's declaration refuses it.

-- True unless the caller is a session (or a sign-in's challenge) without a second factor
-- verified in the step-up window. Anything that is no request's session (a task, the seed, a
-- key) passes: what a caller may do at all is the permissions' business, not this.
create or replace function latchkey.caller_stepped_up()
returns boolean
language sql
stable
set search_path = ''
as $$
  select case
    when latchkey.current_caller() ->> 'principal_kind' in ('session', 'mfa_challenge') then
      coalesce(
        (latchkey.current_caller() ->> 'second_factor_at')::bigint
          > pg_catalog.floor(pg_catalog.date_part('epoch', pg_catalog.now()))::bigint
            - (latchkey.current_caller() ->> 'step_up_seconds')::bigint,
        false)
    else true
  end
$$;
revoke all on function latchkey.caller_stepped_up() from public;
grant execute on function latchkey.caller_stepped_up() to latchkey_caller;

-- Refuses (P0001, hint step_up_required: the API answers 403 step_up_required) unless the
-- caller has stepped up; p_action names the refused action in the message.
create or replace function latchkey.require_step_up(p_action text)
returns void
language plpgsql
stable
set search_path = ''
as $$
begin
  if not latchkey.caller_stepped_up() then
    raise exception '% needs a second factor verified in the last % seconds', p_action,
      coalesce(latchkey.current_caller() ->> 'step_up_seconds', '?')
      using hint = 'step_up_required';
  end if;
end
$$;
revoke all on function latchkey.require_step_up(text) from public;
grant execute on function latchkey.require_step_up(text) to latchkey_caller;

-- A role changed, another account's password set, an account deleted.
create or replace function latchkey.guard_account_step_up()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'DELETE' then
    perform latchkey.require_step_up('Deleting an account');
    return old;
  end if;
  if new.role is distinct from old.role then
    perform latchkey.require_step_up('Changing a role');
  end if;
  -- One's own password is changed with the current one (or a mailed link, with no session).
  if new.password_hash is distinct from old.password_hash
    and new.id is distinct from latchkey.current_user_id() then
    perform latchkey.require_step_up('Setting another account''s password');
  end if;
  return new;
end
$$;
revoke all on function latchkey.guard_account_step_up() from public;
drop trigger if exists guard_account_step_up on latchkey.users;
create trigger guard_account_step_up
  before update of role, password_hash or delete on latchkey.users
  for each row execute function latchkey.guard_account_step_up();

-- A key minted (or rotated: the successor is a new key) with an admin permission.
create or replace function latchkey.guard_admin_key_step_up()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.scopes && array(select p.name from latchkey.permissions p) then
    perform latchkey.require_step_up('Minting a key with an admin permission');
  end if;
  return new;
end
$$;
revoke all on function latchkey.guard_admin_key_step_up() from public;
drop trigger if exists guard_admin_key_step_up on latchkey.api_keys;
create trigger guard_admin_key_step_up
  before insert on latchkey.api_keys
  for each row execute function latchkey.guard_admin_key_step_up();

-- A confirmed factor removed, by its owner or by a reset (an unconfirmed one proves nothing
-- and goes freely; a deleted account's factors go with the account, which stepped up).
create or replace function latchkey.guard_factor_step_up()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if old.confirmed_at is not null then
    perform latchkey.require_step_up('Removing a confirmed second factor');
  end if;
  return old;
end
$$;
revoke all on function latchkey.guard_factor_step_up() from public;
drop trigger if exists guard_factor_step_up on latchkey.mfa_factors;
create trigger guard_factor_step_up
  before delete on latchkey.mfa_factors
  for each row execute function latchkey.guard_factor_step_up();

-- Raising a session's assurance again (a step-up every few minutes) replaces the method's
-- entry instead of adding one: amr lists each method once, at its newest time, as Supabase
-- Auth's does, and a long session's row does not grow with every step-up.
create or replace function latchkey.raise_session_assurance(p_method text)
returns table (session_id uuid, session_expires_at timestamptz, aal text, amr jsonb)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_session latchkey.sessions;
begin
  if latchkey.current_principal_kind() <> 'session' or p_method not in ('totp', 'recovery_code')
  then
    raise exception 'only a session raises its own assurance' using errcode = '42501';
  end if;
  update latchkey.sessions s set aal = 'aal2',
    amr = coalesce((
      select pg_catalog.jsonb_agg(e order by n) from pg_catalog.jsonb_array_elements(s.amr)
        with ordinality as a (e, n)
      where e ->> 'method' is distinct from p_method), '[]'::jsonb)
      || pg_catalog.jsonb_build_array(latchkey.amr_entry(p_method))
  where s.id = latchkey.current_credential_id() and s.user_id = latchkey.current_user_id()
    and s.purpose = 'session' and s.revoked_at is null and s.expires_at > pg_catalog.now()
  returning s.* into v_session;
  if not found then
    return;
  end if;
  perform latchkey.record_audit_event('auth.session_assurance_raised', 'session', v_session.id,
    pg_catalog.jsonb_build_object('aal', 'aal2', 'method', p_method));
  return query select v_session.id, v_session.expires_at, v_session.aal, v_session.amr;
end
$$;
revoke all on function latchkey.raise_session_assurance(text) from public;
grant execute on function latchkey.raise_session_assurance(text) to latchkey_caller;

-- The admin twins of the factor routes (issue 28, item 6). Readers of users see an account's
-- factors (never a secret: the column grants stop at the names and times) and how many
-- recovery codes it has left, as they see its sessions.
-- One policy per table and action (Supabase's advisors warn of two permissive ones, each run
-- for every row): the caller's own, or any account's for a reader of users.
drop policy if exists "Callers read their own factors" on latchkey.mfa_factors;
drop policy if exists "Callers read own factors, user readers any"
  on latchkey.mfa_factors;
create policy "Callers read own factors, user readers any"
  on latchkey.mfa_factors for select to latchkey_caller
  using (
    user_id = (select latchkey.current_user_id())
    or (select latchkey.caller_has_permission('users:read'))
  );
drop policy if exists "Callers read their own recovery codes' state"
  on latchkey.mfa_recovery_codes;
drop policy if exists "Callers read own codes' state, user readers any"
  on latchkey.mfa_recovery_codes;
create policy "Callers read own codes' state, user readers any"
  on latchkey.mfa_recovery_codes for select to latchkey_caller
  using (
    user_id = (select latchkey.current_user_id())
    or (select latchkey.caller_has_permission('users:read'))
  );

-- Resets an account's second factors: every factor and recovery code goes, and every session
-- (and sign-in challenge) of the account is revoked, so whoever held the old factor is out and
-- the owner signs in with the password alone, then enrols anew. Needs users:write, the
-- account within the caller's reach, and a step-up; audited with what went. No row when there
-- is no such account.
create or replace function latchkey.reset_user_factors(p_user_id uuid)
returns table (factors_removed integer, recovery_codes_removed integer, revoked_sessions integer)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_factors integer;
  v_codes integer;
  v_sessions integer;
begin
  if not latchkey.caller_has_permission('users:write') then
    raise exception 'resetting factors needs users:write' using errcode = '42501';
  end if;
  perform 1 from latchkey.users u where u.id = p_user_id for update;
  if not found then
    return;
  end if;
  if not latchkey.caller_reaches_user(p_user_id) then
    raise exception 'resetting these factors needs every permission of the account''s role'
      using errcode = '42501';
  end if;
  perform latchkey.require_step_up('Resetting an account''s second factors');
  delete from latchkey.mfa_factors f where f.user_id = p_user_id;
  get diagnostics v_factors = row_count;
  delete from latchkey.mfa_recovery_codes c where c.user_id = p_user_id;
  get diagnostics v_codes = row_count;
  v_sessions := latchkey.revoke_all_sessions(p_user_id);
  perform latchkey.record_audit_event('admin.factors_reset', 'user', p_user_id,
    pg_catalog.jsonb_build_object('factorsRemoved', v_factors,
      'recoveryCodesRemoved', v_codes, 'revokedSessions', v_sessions));
  return query select v_factors, v_codes, v_sessions;
end
$$;
revoke all on function latchkey.reset_user_factors(uuid) from public;
grant execute on function latchkey.reset_user_factors(uuid) to latchkey_caller;
