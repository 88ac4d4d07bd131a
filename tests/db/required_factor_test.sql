-- Second factor required by role: an aal1 session whose role needs a factor holds no permission
-- in the database, whatever permissions its caller state lists, so a route that forgot to ask
-- (a query or a definer function called straight away) cannot lend it power. The same admin at
-- aal2 holds them all; API keys are not sessions; a session grants admin scopes only at aal2.
-- (Every session caller state below says its step-up is satisfied, "second_factor_at" far ahead,
-- so that what is proven is this rule alone, not step-up's: tests/db/step_up_test.sql.)
begin;
select plan(22);

insert into latchkey.users (id, email, name, role) values
  ('f0000000-0000-4000-8000-000000000001', 'root@factor.test', 'Root', 'admin'),
  ('f0000000-0000-4000-8000-000000000002', 'pat@factor.test', 'Pat', 'user'),
  ('f0000000-0000-4000-8000-000000000003', 'other@factor.test', 'Other', 'admin');
insert into latchkey.sessions (id, user_id, token_hash, expires_at) values
  ('f1000000-0000-4000-8000-000000000002', 'f0000000-0000-4000-8000-000000000002',
    sha256('pat-session'), now() + interval '1 hour');

set local role latchkey_caller;

-- The admin signed in with a password only: its caller state, as withCaller writes it.
select set_config('latchkey.caller', '{"sub": "f0000000-0000-4000-8000-000000000001",
  "app_role": "admin", "principal_kind": "session",
  "credential_id": "f1000000-0000-4000-8000-000000000001",
  "permissions": ["users:read", "keys:read", "keys:revoke", "sessions:revoke", "audit:read",
    "users:write", "keys:write", "roles:write"], "aal": "aal1", "mfa_required": true,
    "second_factor_at": 9999999999, "step_up_seconds": 600}', true);
select is(latchkey.caller_awaits_second_factor(), true, 'an aal1 admin session awaits a factor');
select is(latchkey.caller_has_permission('users:read'), false,
  'it holds no permission its role grants');
select is(latchkey.caller_has_role('admin'), false, 'nor the role itself');
select results_eq(
  $$select id from latchkey.users where email like '%@factor.test'$$,
  $$values ('f0000000-0000-4000-8000-000000000001'::uuid)$$,
  'a query that forgot to check reads the caller''s own row only'
);
select is_empty(
  $$update latchkey.users set role = 'admin' where id = 'f0000000-0000-4000-8000-000000000002'
    returning id$$,
  'it cannot change a role'
);
select is_empty($$select 1 from latchkey.audit_events$$, 'it cannot read the audit log');
select is_empty(
  $$update latchkey.sessions set revoked_at = now()
    where user_id = 'f0000000-0000-4000-8000-000000000002' returning id$$,
  'it cannot revoke another account''s sessions'
);
select throws_ok(
  $$select latchkey.revoke_all_sessions('f0000000-0000-4000-8000-000000000002')$$,
  '42501', null, 'a definer function that grants power refuses it'
);
select is_empty($$select * from latchkey.deployment_state()$$,
  'a definer function that reads for admins answers nothing');
select throws_ok(
  $$insert into latchkey.api_keys (user_id, name, key_prefix, key_hash, scopes)
    values ('f0000000-0000-4000-8000-000000000001', 'laundered', 'lk_aaaaaaaaa', sha256('k1'),
      array['users:write'])$$,
  '42501', null, 'it cannot mint itself a key with an admin permission'
);

-- A session caller state that does not say whether a factor is awaited: refused the same.
select set_config('latchkey.caller', '{"sub": "f0000000-0000-4000-8000-000000000001",
  "app_role": "admin", "principal_kind": "session",
  "permissions": ["users:read", "users:write"]}', true);
select is(latchkey.caller_has_permission('users:read'), false,
  'a session of no stated level counts as awaiting a factor (fails closed)');

-- The same admin after verifying a factor.
select set_config('latchkey.caller', '{"sub": "f0000000-0000-4000-8000-000000000001",
  "app_role": "admin", "principal_kind": "session",
  "credential_id": "f1000000-0000-4000-8000-000000000001",
  "permissions": ["users:read", "keys:read", "keys:revoke", "sessions:revoke", "audit:read",
    "users:write", "keys:write", "roles:write"], "aal": "aal2", "mfa_required": false,
    "second_factor_at": 9999999999, "step_up_seconds": 600}', true);
select is(latchkey.caller_awaits_second_factor(), false, 'at aal2 nothing is awaited');
select is(latchkey.current_aal(), 'aal2', 'the caller''s level is read from its state');
select is(
  (select count(*)::int from latchkey.users where email like '%@factor.test'), 3,
  'at aal2 the admin reads every user'
);
select lives_ok(
  $$insert into latchkey.api_keys (user_id, name, key_prefix, key_hash, scopes)
    values ('f0000000-0000-4000-8000-000000000001', 'ops', 'lk_bbbbbbbbb', sha256('k2'),
      array['users:write'])$$,
  'and mints a key with an admin permission'
);

-- A role LATCHKEY_MFA_REQUIRED_ROLES leaves out, at aal1: its permissions hold, but a key it
-- mints carries no admin permission (the key would outlive the session's single factor).
select set_config('latchkey.caller', '{"sub": "f0000000-0000-4000-8000-000000000001",
  "app_role": "admin", "principal_kind": "session",
  "permissions": ["users:read", "keys:read", "keys:revoke", "sessions:revoke", "audit:read",
    "users:write", "keys:write", "roles:write"], "aal": "aal1", "mfa_required": false,
    "second_factor_at": 9999999999, "step_up_seconds": 600}', true);
select is(latchkey.caller_has_permission('users:read'), true,
  'an aal1 session of a role that needs no factor keeps its permissions');
select is(latchkey.caller_holds_scopes(array['users:read']), false,
  'but grants no admin permission to a key');
select is(latchkey.caller_holds_scopes(array['compile']), true,
  'application scopes stay free');
select throws_ok(
  $$insert into latchkey.api_keys (user_id, name, key_prefix, key_hash, scopes)
    values ('f0000000-0000-4000-8000-000000000001', 'aal1 key', 'lk_ccccccccc', sha256('k3'),
      array['keys:read'])$$,
  '42501', null, 'an aal1 session cannot mint an admin-scoped key'
);

-- An admin's API key is no session: it keeps its scopes for machines, whatever the state says.
select set_config('latchkey.caller', '{"sub": "f0000000-0000-4000-8000-000000000001",
  "app_role": "admin", "principal_kind": "api_key",
  "credential_id": "f2000000-0000-4000-8000-000000000001",
  "permissions": ["users:read", "keys:write"], "aal": null, "mfa_required": false}', true);
select is(latchkey.current_aal(), null, 'a key has no assurance level');
select is(latchkey.caller_has_permission('users:read'), true, 'an admin-scoped key reads users');
select is(latchkey.caller_holds_scopes(array['users:read']), true,
  'and grants what it holds, as before');

select * from finish();
rollback;
