-- Step-up in the database: a session's dangerous changes need second_factor_at within
-- step_up_seconds of the caller state; keys pass; the admin reset removes, revokes and audits.
begin;
select plan(9);

insert into latchkey.users (id, email, name, password_hash, role) values
  ('11111111-1111-4111-8111-111111111111', 'ada@step.test', 'Ada', '$argon2id$x', 'admin'),
  ('22222222-2222-4222-8222-222222222222', 'bob@step.test', 'Bob', '$argon2id$x', 'user');
insert into latchkey.mfa_factors (id, user_id, type, name, secret_ciphertext, confirmed_at) values
  ('33333333-3333-4333-8333-333333333333', '22222222-2222-4222-8222-222222222222', 'totp',
    'Phone', decode(repeat('ab', 40), 'hex'), now());
insert into latchkey.sessions (id, user_id, token_hash, expires_at) values
  ('44444444-4444-4444-8444-444444444444', '22222222-2222-4222-8222-222222222222',
    sha256('bob'), now() + interval '1 hour');
insert into latchkey.api_keys (id, user_id, name, key_prefix, key_hash, scopes, enabled) values
  ('55555555-5555-4555-8555-555555555555', '11111111-1111-4111-8111-111111111111', 'machine',
    'lk_live_abcd', sha256('machine'), '{users:read}', false);

set local role latchkey_caller;
select set_config('latchkey.caller', pg_catalog.jsonb_build_object('sub',
  '11111111-1111-4111-8111-111111111111', 'app_role', 'admin', 'principal_kind', 'session',
  'permissions', '["users:read","users:write","roles:write","keys:write","keys:read","keys:revoke","sessions:revoke","audit:read"]'::jsonb,
  'aal', 'aal2', 'mfa_required', false,
  'second_factor_at', floor(extract(epoch from now()))::bigint - 660,
  'step_up_seconds', 600)::text, true);
select ok(not latchkey.caller_stepped_up(), 'a factor verified 11 minutes ago is stale');
select throws_like(
  $$update latchkey.users set role = 'support' where id = '22222222-2222-4222-8222-222222222222'$$,
  'Changing a role needs a second factor%', 'a stale session cannot change a role');
select throws_like(
  $$select * from latchkey.reset_user_factors('22222222-2222-4222-8222-222222222222')$$,
  'Resetting an account''s second factors needs%', 'nor reset factors');
select throws_like(
  $$select latchkey.update_api_key('55555555-5555-4555-8555-555555555555', '{"enabled": true}')$$,
  'Enabling a key with an admin permission needs%', 'nor enable a disabled admin-scoped key');
select is(
  latchkey.update_api_key('55555555-5555-4555-8555-555555555555', '{"name": "machine, off"}'),
  'updated', 'renaming it is free');

select set_config('latchkey.caller', (latchkey.current_caller() || pg_catalog.jsonb_build_object(
  'second_factor_at', floor(extract(epoch from now()))::bigint - 60))::text, true);
select ok(latchkey.caller_stepped_up(), 'a minute ago is within the window');
select results_eq(
  $$select factors_removed, recovery_codes_removed, revoked_sessions
    from latchkey.reset_user_factors('22222222-2222-4222-8222-222222222222')$$,
  $$values (1, 0, 1)$$, 'the reset removes the factor and revokes the session');
reset role;
select is((select count(*)::int from latchkey.audit_events where action = 'admin.factors_reset'
  and target_id = '22222222-2222-4222-8222-222222222222'), 1, 'and is audited');

set local role latchkey_caller;
select set_config('latchkey.caller', '{"sub": "11111111-1111-4111-8111-111111111111",
  "app_role": "admin", "principal_kind": "api_key", "permissions": ["users:write"]}', true);
select ok(latchkey.caller_stepped_up(), 'an API key is not asked for a second factor');

select * from finish();
rollback;
