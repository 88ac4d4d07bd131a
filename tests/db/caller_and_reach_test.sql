-- The attacker's review, proven in the database: Supabase's API roles and JWT claims reach
-- nothing; the audit actor is never forged; revocation is final; a credential never acts on an
-- account above it or grants what it does not hold; the service-account domain is reserved;
-- wrong X-Admin-Key guesses are throttled per client.
begin;
select plan(28);

insert into latchkey.users (id, email, name, role) values
  ('c0000000-0000-4000-8000-000000000001', 'ada@reach.test', 'Ada', 'admin'),
  ('c0000000-0000-4000-8000-000000000002', 'uli@reach.test', 'Uli', 'user'),
  ('c0000000-0000-4000-8000-000000000003', 'sue@reach.test', 'Sue', 'support');
insert into latchkey.sessions (id, user_id, token_hash, expires_at, revoked_at) values
  ('c1000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-000000000001',
    sha256('ada-session'), now() + interval '1 day', null),
  ('c1000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-000000000002',
    sha256('uli-session'), now() + interval '1 day', null),
  ('c1000000-0000-4000-8000-000000000003', 'c0000000-0000-4000-8000-000000000002',
    sha256('uli-old-session'), now() + interval '1 day', now());
insert into latchkey.api_keys (id, user_id, name, key_prefix, key_hash, revoked_at) values
  ('c2000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-000000000001', 'ada key',
    'lk_adaadaada', sha256('ada-key'), null),
  ('c2000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-000000000002', 'uli key',
    'lk_uliuliuli', sha256('uli-key'), null),
  ('c2000000-0000-4000-8000-000000000003', 'c0000000-0000-4000-8000-000000000002', 'uli key 2',
    'lk_uliuliul2', sha256('uli-key-2'), null),
  ('c2000000-0000-4000-8000-000000000004', 'c0000000-0000-4000-8000-000000000002', 'revoked',
    'lk_uliuliul3', sha256('uli-key-3'), now());

-- Supabase's `authenticated`, with claims shaped like Supabase Auth's and a forged app_role
-- (a team's access-token hook could add one): nothing of ours is reachable.
set local role authenticated;
select set_config('request.jwt.claims', '{"sub": "c0000000-0000-4000-8000-000000000001",
  "role": "authenticated", "aud": "authenticated", "app_role": "admin",
  "permissions": ["users:read", "users:write", "keys:write"]}', true);
select throws_ok($$select id from latchkey.users$$, '42501', null,
  'authenticated with a forged app_role cannot read users');
select throws_ok(
  $$insert into latchkey.api_keys (user_id, name, key_prefix, key_hash)
    values ('c0000000-0000-4000-8000-000000000001', 'planted', 'lk_planted00', sha256('x'))$$,
  '42501', null, 'authenticated cannot plant a key for the admin');
select throws_ok(
  $$select latchkey.record_audit_event('forged.event', null, null)$$,
  '42501', null, 'authenticated cannot write audit events');
reset role;

-- Our role, but with only Supabase's claims set: the caller is nobody.
set local role latchkey_caller;
select set_config('latchkey.caller', '', true);
select is_empty($$select id from latchkey.users where email like '%@reach.test'$$,
  'request.jwt.claims grants nothing to our role either');
select throws_ok(
  $$insert into latchkey.api_keys (user_id, name, key_prefix, key_hash)
    values ('c0000000-0000-4000-8000-000000000001', 'planted', 'lk_planted00', sha256('x'))$$,
  '42501', null, 'nobody plants a key without our caller setting');

-- The audit actor comes from the caller setting and is never `system`.
select set_config('latchkey.caller', '{"sub": "c0000000-0000-4000-8000-000000000002",
  "app_role": "user", "principal_kind": "system", "permissions": []}', true);
select set_config('latchkey.request', '{"requestId": "forged-system"}', true);
select lives_ok($$select latchkey.record_audit_event('forged.event', null, null)$$,
  'a caller records an event');
reset role;
select results_eq(
  $$select actor_kind from latchkey.audit_events where request_id = 'forged-system'$$,
  $$values ('anonymous')$$,
  'a claimed principal_kind of system is written as anonymous');

-- Revocation is final, in the policy and in a trigger.
set local role latchkey_caller;
select set_config('latchkey.caller', '{"sub": "c0000000-0000-4000-8000-000000000002",
  "app_role": "user", "principal_kind": "session",
  "credential_id": "c1000000-0000-4000-8000-000000000002", "permissions": []}', true);
select throws_ok(
  $$update latchkey.sessions set revoked_at = null
    where id = 'c1000000-0000-4000-8000-000000000003'$$,
  '42501', null, 'a user cannot bring a signed-out session back');
select throws_ok(
  $$update latchkey.api_keys set revoked_at = null
    where id = 'c2000000-0000-4000-8000-000000000004'$$,
  '42501', null, 'a user cannot bring a revoked key back');
reset role;
select throws_ok(
  $$update latchkey.api_keys set revoked_at = null
    where id = 'c2000000-0000-4000-8000-000000000004'$$,
  '42501', 'a revocation is final', 'not even the schema owner can un-revoke a key');
select throws_ok(
  $$update latchkey.sessions set revoked_at = now() + interval '1 year'
    where id = 'c1000000-0000-4000-8000-000000000003'$$,
  '42501', 'a revocation is final', 'nor move a session''s revocation');

-- An API key revokes only itself among its owner's keys.
set local role latchkey_caller;
select set_config('latchkey.caller', '{"sub": "c0000000-0000-4000-8000-000000000002",
  "app_role": "user", "principal_kind": "api_key",
  "credential_id": "c2000000-0000-4000-8000-000000000002", "permissions": []}', true);
select is_empty(
  $$update latchkey.api_keys set revoked_at = now()
    where id = 'c2000000-0000-4000-8000-000000000003' returning id$$,
  'an API key cannot revoke a sibling key');
select isnt_empty(
  $$update latchkey.api_keys set revoked_at = now()
    where id = 'c2000000-0000-4000-8000-000000000002' returning id$$,
  'an API key revokes itself');

-- Support reaches users and support, not admins.
select set_config('latchkey.caller', '{"sub": "c0000000-0000-4000-8000-000000000003",
  "app_role": "support", "principal_kind": "session", "aal": "aal2", "mfa_required": false,
  "permissions": ["users:read", "keys:read", "keys:revoke", "sessions:revoke", "audit:read"]}',
  true);
select is_empty(
  $$update latchkey.sessions set revoked_at = now()
    where id = 'c1000000-0000-4000-8000-000000000001' returning id$$,
  'support cannot sign an admin out');
select is_empty(
  $$update latchkey.api_keys set revoked_at = now()
    where id = 'c2000000-0000-4000-8000-000000000001' returning id$$,
  'support cannot revoke an admin''s key');
select isnt_empty(
  $$update latchkey.sessions set revoked_at = now()
    where id = 'c1000000-0000-4000-8000-000000000002' returning id$$,
  'support signs a user out');

-- An admin's key with users:read and users:write, without roles:write.
select set_config('latchkey.caller', '{"sub": "c0000000-0000-4000-8000-000000000001",
  "app_role": "admin", "principal_kind": "api_key",
  "credential_id": "c2000000-0000-4000-8000-000000000001",
  "permissions": ["users:read", "users:write"]}', true);
select is_empty(
  $$update latchkey.users set password_hash = '$argon2id$taken-over'
    where id = 'c0000000-0000-4000-8000-000000000001' returning id$$,
  'a users:write key cannot set an admin''s password, its own owner''s included');
select is_empty(
  $$delete from latchkey.users where id = 'c0000000-0000-4000-8000-000000000003' returning id$$,
  'nor delete a support account, whose permissions it lacks');
select isnt_empty(
  $$update latchkey.users set name = 'Uli B.'
    where id = 'c0000000-0000-4000-8000-000000000002' returning id$$,
  'it changes a user');
select throws_ok(
  $$select latchkey.revoke_all_sessions('c0000000-0000-4000-8000-000000000001')$$,
  '42501', null, 'nor revoke an admin''s sessions through the definer function');

-- An admin's key with keys:write alone.
select set_config('latchkey.caller', '{"sub": "c0000000-0000-4000-8000-000000000001",
  "app_role": "admin", "principal_kind": "api_key",
  "credential_id": "c2000000-0000-4000-8000-000000000001", "permissions": ["keys:write"]}', true);
select throws_ok(
  $$insert into latchkey.api_keys (user_id, name, key_prefix, key_hash, scopes, key_type)
    values ('c0000000-0000-4000-8000-000000000001', 'wider', 'lk_wider0000', sha256('w'),
      '{audit:read}', 'ci')$$,
  '42501', null, 'a keys:write key cannot mint a key with audit:read, even for its owner');
select throws_ok(
  $$insert into latchkey.api_keys (user_id, name, key_prefix, key_hash, scopes, key_type)
    values ('c0000000-0000-4000-8000-000000000003', 'support', 'lk_support00', sha256('s'),
      '{compile}', 'ci')$$,
  '42501', null, 'nor a key for an account above it without roles:write');
select lives_ok(
  $$insert into latchkey.api_keys (user_id, name, key_prefix, key_hash, scopes, key_type)
    values ('c0000000-0000-4000-8000-000000000002', 'for uli', 'lk_foruli000', sha256('u'),
      '{compile}', 'ci')$$,
  'it mints an application key for a user');
reset role;

-- The service-account domain is the bootstrap's alone.
select throws_ok(
  $$insert into latchkey.users (email, name, password_hash)
    values ('ci@service-accounts.latchkey.invalid', 'Squatter', '$argon2id$x')$$,
  '23514', null, 'nobody else takes an address in the service-account domain');
select lives_ok(
  $$select latchkey.bootstrap_service_key('ci', 'lk_bootstrap', sha256('boot'))$$,
  'the bootstrap still makes its service account there');

-- Wrong X-Admin-Key guesses: a burst of the limit, then throttled; audited once a minute.
select is(
  array(select latchkey.record_admin_key_failure('198.51.100.7', 3, interval '15 minutes',
    '{"requestId": "guess"}') from generate_series(1, 4)),
  array[0, 0, 300, 300],
  'three guesses pass, then one per window/limit (300 s here)');
select is(
  latchkey.throttle_retry_after('admin_key', '198.51.100.8', 3, interval '15 minutes'), 0,
  'another client is not throttled');
select is(
  (select count(*)::int from latchkey.audit_events
    where action = 'admin_key.rejected' and request_id = 'guess'), 1,
  'a burst of guesses from one client is audited once');

select * from finish();
rollback;
