-- RLS and grants on second factors and recovery codes, proven as the API roles with a caller's
-- claims: owners read their own rows (never a secret) and rename their own factors; every other
-- write goes through the SQL functions, which act on the caller's own factors only.
begin;
select plan(24);

insert into latchkey.users (id, email, name, password_hash, role) values
  ('11111111-1111-4111-8111-111111111111', 'alice@factors.test', 'Alice', '$argon2id$x', 'user'),
  ('22222222-2222-4222-8222-222222222222', 'bob@factors.test', 'Bob', '$argon2id$x', 'user');
insert into latchkey.mfa_factors (id, user_id, type, name, secret_ciphertext, confirmed_at) values
  ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', '11111111-1111-4111-8111-111111111111', 'totp',
    'Alice''s phone', decode(repeat('ab', 48), 'hex'), now()),
  ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', '22222222-2222-4222-8222-222222222222', 'totp',
    'Bob''s phone', decode(repeat('cd', 48), 'hex'), now());
insert into latchkey.mfa_recovery_codes (code_hash, user_id) values
  (sha256('alice-code'), '11111111-1111-4111-8111-111111111111'),
  (sha256('bob-code'), '22222222-2222-4222-8222-222222222222');

select throws_ok(
  $$insert into latchkey.mfa_factors (id, user_id, type, name) values
    (gen_random_uuid(), '11111111-1111-4111-8111-111111111111', 'totp', 'no secret')$$,
  '23514', null, 'a TOTP factor needs its encrypted secret'
);

set local role latchkey_caller;
select set_config('latchkey.caller',
  '{"sub": "11111111-1111-4111-8111-111111111111", "app_role": "user"}', true);

select results_eq(
  $$select id from latchkey.mfa_factors$$,
  $$values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'::uuid)$$,
  'a user reads only their own factors'
);
select throws_ok(
  $$select secret_ciphertext from latchkey.mfa_factors$$,
  '42501', null, 'nobody reads a factor''s secret through the API role'
);
select throws_ok(
  $$select last_used_step from latchkey.mfa_factors$$,
  '42501', null, 'nor its last used step'
);
select results_eq(
  $$select count(*)::int from latchkey.mfa_recovery_codes where used_at is null$$,
  $$values (1)$$,
  'a user counts only their own recovery codes'
);
select throws_ok(
  $$select code_hash from latchkey.mfa_recovery_codes$$,
  '42501', null, 'nobody reads a recovery code''s hash through the API role'
);
select results_eq(
  $$update latchkey.mfa_factors set name = 'Phone' returning id$$,
  $$values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'::uuid)$$,
  'a user renames their own factor and no other'
);
select throws_ok(
  $$update latchkey.mfa_factors set confirmed_at = null$$,
  '42501', null, 'a user cannot unconfirm a factor directly'
);
select throws_ok(
  $$update latchkey.mfa_factors set last_used_step = 0$$,
  '42501', null, 'nor reset its replay guard'
);
select throws_ok(
  $$insert into latchkey.mfa_factors (id, user_id, type, name, secret_ciphertext) values
    (gen_random_uuid(), '11111111-1111-4111-8111-111111111111', 'totp', 'x',
     decode(repeat('ab', 48), 'hex'))$$,
  '42501', null, 'a user cannot insert a factor directly'
);
select throws_ok(
  $$delete from latchkey.mfa_factors$$,
  '42501', null, 'nor delete one directly'
);
select throws_ok(
  $$update latchkey.mfa_recovery_codes set used_at = null$$,
  '42501', null, 'nor revive a recovery code'
);
select is_empty(
  $$select id from latchkey.totp_factors_to_check('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb')$$,
  'the secret of another user''s factor is not handed out'
);
select results_eq(
  $$select outcome from latchkey.accept_totp_code('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 100,
    array[]::bytea[])$$,
  $$values ('not_found'::text)$$,
  'a code cannot be accepted for another user''s factor'
);
select results_eq(
  $$select outcome from latchkey.accept_totp_code('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 100,
    array[]::bytea[])$$,
  $$values ('verified'::text)$$,
  'a code of a new time step is accepted'
);
select results_eq(
  $$select outcome from latchkey.accept_totp_code('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 100,
    array[]::bytea[])$$,
  $$values ('replayed'::text)$$,
  'the same time step again is a replay'
);
select is(
  latchkey.use_recovery_code(sha256('bob-code')), 'not_found',
  'another user''s recovery code cannot be spent'
);
select is(
  latchkey.remove_factor('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb'), false,
  'another user''s factor cannot be removed'
);

reset role;
select is(
  (select count(*)::int from latchkey.mfa_recovery_codes
   where user_id = '22222222-2222-4222-8222-222222222222' and used_at is null),
  1, 'Bob''s recovery code is untouched'
);

-- Who has a factor, in a search (GET /admin/users?q=&secondFactor=): a reader of users learns it;
-- a caller who may write users but not read them learns nothing of anyone's factors.
update latchkey.mfa_factors set confirmed_at = null
where id = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
set local role latchkey_caller;
select set_config('latchkey.caller',
  '{"sub": "33333333-3333-4333-8333-333333333333", "app_role": "support",
    "permissions": ["users:read"]}', true);
select results_eq(
  $$select latchkey.matching_user_ids('factors.test', null, null, null, null, false, null, null, 10)$$,
  $$values ('22222222-2222-4222-8222-222222222222'::uuid)$$,
  'a reader of users finds who has no confirmed factor (an unconfirmed one is none)'
);
select results_eq(
  $$select latchkey.matching_user_ids('factors.test', null, null, null, null, true, null, null, 10)$$,
  $$values ('11111111-1111-4111-8111-111111111111'::uuid)$$,
  'and who has one'
);
select set_config('latchkey.caller',
  '{"sub": "33333333-3333-4333-8333-333333333333", "app_role": "admin",
    "permissions": ["users:write"]}', true);
select is_empty(
  $$select latchkey.matching_user_ids('factors.test', null, null, null, null, false, null, null, 10)$$,
  'a writer of users who may not read them learns nothing of factors'
);
select is(
  (select count(*)::int from latchkey.matching_user_ids('factors.test', null, null, null, null,
    null, null, null, 10)),
  2, 'though it still finds the accounts themselves'
);
reset role;

set local role anon;
select throws_ok(
  $$select id from latchkey.mfa_factors$$,
  '42501', null, 'anon reads no factors'
);

select * from finish();
rollback;
