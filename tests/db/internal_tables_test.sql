-- The tables only Latchkey's own functions touch, and the two reference tables callers read:
-- no API role (anon, authenticated, service_role) and no caller (latchkey_caller) may read or
-- write the former; callers read the latter within RLS (and write them with roles:write only).
begin;
select plan(54);

insert into latchkey.users (id, email, name, role) values
  ('a1a1a1a1-a1a1-4a1a-8a1a-a1a1a1a1a1a1', 'ann@internal.test', 'Ann', 'user'),
  ('b2b2b2b2-b2b2-4b2b-8b2b-b2b2b2b2b2b2', 'ben@internal.test', 'Ben', 'user');
insert into latchkey.api_keys (id, user_id, name, key_prefix, key_hash) values
  ('a1a1a1a1-0000-4000-8000-000000000001', 'a1a1a1a1-a1a1-4a1a-8a1a-a1a1a1a1a1a1', 'ann key',
    'lk_annannann', sha256('ann-key')),
  ('b2b2b2b2-0000-4000-8000-000000000001', 'b2b2b2b2-b2b2-4b2b-8b2b-b2b2b2b2b2b2', 'ben key',
    'lk_benbenben', sha256('ben-key'));
insert into latchkey.api_key_usage (key_id, hour, valid) values
  ('a1a1a1a1-0000-4000-8000-000000000001', date_trunc('hour', now()), 3),
  ('b2b2b2b2-0000-4000-8000-000000000001', date_trunc('hour', now()), 5);

-- Four roles × six tables × read and write: 48 refusals.
set local role latchkey_caller;
select set_config('latchkey.caller',
  '{"sub": "a1a1a1a1-a1a1-4a1a-8a1a-a1a1a1a1a1a1", "app_role": "user"}', true);
select throws_ok(format('select * from latchkey.%I', name), '42501', null,
  format('a caller cannot read latchkey.%s', name)) from unnest(array['account_tokens', 'audit_repeats',
  'sign_in_failures', 'supabase_identities', 'throttles', 'notification_windows']) as name;
select throws_ok(format('insert into latchkey.%I default values', name), '42501', null,
  format('a caller cannot write latchkey.%s', name)) from unnest(array['account_tokens', 'audit_repeats',
  'sign_in_failures', 'supabase_identities', 'throttles', 'notification_windows']) as name;
reset role;
set local role anon;
select throws_ok(format('select * from latchkey.%I', name), '42501', null,
  format('anon cannot read latchkey.%s', name)) from unnest(array['account_tokens', 'audit_repeats',
  'sign_in_failures', 'supabase_identities', 'throttles', 'notification_windows']) as name;
select throws_ok(format('insert into latchkey.%I default values', name), '42501', null,
  format('anon cannot write latchkey.%s', name)) from unnest(array['account_tokens', 'audit_repeats',
  'sign_in_failures', 'supabase_identities', 'throttles', 'notification_windows']) as name;
reset role;
set local role authenticated;
select throws_ok(format('select * from latchkey.%I', name), '42501', null,
  format('authenticated cannot read latchkey.%s', name)) from unnest(array['account_tokens', 'audit_repeats',
  'sign_in_failures', 'supabase_identities', 'throttles', 'notification_windows']) as name;
select throws_ok(format('insert into latchkey.%I default values', name), '42501', null,
  format('authenticated cannot write latchkey.%s', name)) from unnest(array['account_tokens', 'audit_repeats',
  'sign_in_failures', 'supabase_identities', 'throttles', 'notification_windows']) as name;
reset role;
set local role service_role;
select throws_ok(format('select * from latchkey.%I', name), '42501', null,
  format('service_role cannot read latchkey.%s', name)) from unnest(array['account_tokens', 'audit_repeats',
  'sign_in_failures', 'supabase_identities', 'throttles', 'notification_windows']) as name;
select throws_ok(format('insert into latchkey.%I default values', name), '42501', null,
  format('service_role cannot write latchkey.%s', name)) from unnest(array['account_tokens', 'audit_repeats',
  'sign_in_failures', 'supabase_identities', 'throttles', 'notification_windows']) as name;
reset role;

-- Usage history: a caller reads the usage of the keys it may read, and writes none.
set local role latchkey_caller;
select set_config('latchkey.caller',
  '{"sub": "a1a1a1a1-a1a1-4a1a-8a1a-a1a1a1a1a1a1", "app_role": "user"}', true);
select results_eq(
  $$select key_id, valid from latchkey.api_key_usage
    where key_id in ('a1a1a1a1-0000-4000-8000-000000000001',
      'b2b2b2b2-0000-4000-8000-000000000001')$$,
  $$values ('a1a1a1a1-0000-4000-8000-000000000001'::uuid, 3)$$,
  'a user reads the usage of their own keys only'
);
select throws_ok(
  $$update latchkey.api_key_usage set valid = 0$$,
  '42501', null, 'a caller cannot rewrite usage history'
);
-- What each permission means: readable by callers, written only with roles:write
-- (tests/db/runtime_roles_test.sql proves who may).
select ok((select count(*) from latchkey.permissions) >= 8, 'a caller reads the permissions');
select is_empty(
  $$update latchkey.permissions set description = 'anything' returning 1$$,
  'a caller without roles:write cannot redefine a permission'
);
reset role;
set local role anon;
select throws_ok($$select * from latchkey.api_key_usage$$, '42501', null,
  'anon cannot read usage history');
select throws_ok($$select * from latchkey.permissions$$, '42501', null,
  'anon cannot read the permissions');
reset role;

select * from finish();
rollback;
