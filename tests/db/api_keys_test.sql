-- RLS and grants on API keys and their meters (the rate limiter's GCRA state).
begin;
select plan(14);

insert into latchkey.users (id, email, name, role) values
  ('66666666-6666-4666-8666-666666666666', 'kim@keys.test', 'Kim', 'user'),
  ('77777777-7777-4777-8777-777777777777', 'lee@keys.test', 'Lee', 'user'),
  ('88888888-8888-4888-8888-888888888888', 'sue@keys.test', 'Sue', 'support');
insert into latchkey.api_keys (id, user_id, name, key_prefix, key_hash) values
  ('66666666-0000-4000-8000-000000000001', '66666666-6666-4666-8666-666666666666', 'kim key',
    'lk_kimkimkim', sha256('kim-key')),
  ('77777777-0000-4000-8000-000000000001', '77777777-7777-4777-8777-777777777777', 'lee key',
    'lk_leeleelee', sha256('lee-key'));

set local role latchkey_caller;
select set_config('latchkey.caller',
  '{"sub": "66666666-6666-4666-8666-666666666666", "app_role": "user"}', true);

select results_eq(
  $$select id from latchkey.api_keys$$,
  $$values ('66666666-0000-4000-8000-000000000001'::uuid)$$,
  'an owner sees only their own keys'
);
select throws_ok(
  $$select key_hash from latchkey.api_keys$$,
  '42501', null, 'the key hash is unreadable'
);
select throws_ok(
  $$select * from latchkey.api_keys$$,
  '42501', null, 'select * is refused, because it includes the hash'
);
select lives_ok(
  $$insert into latchkey.api_keys (user_id, name, key_prefix, key_hash)
    values ('66666666-6666-4666-8666-666666666666', 'new', 'lk_newnewnew', sha256('new-key'))$$,
  'an owner can create a key for themselves'
);
select is(
  (select key_type || ' by ' || created_by from latchkey.api_keys where name = 'new'),
  'human by 66666666-6666-4666-8666-666666666666',
  'a self-made key is human and created by its owner'
);
select throws_ok(
  $$insert into latchkey.api_keys (user_id, name, key_prefix, key_hash)
    values ('77777777-7777-4777-8777-777777777777', 'planted', 'lk_plantedxx', sha256('x'))$$,
  '42501', null, 'a user cannot create a key for someone else'
);
select throws_ok(
  $$insert into latchkey.api_keys (user_id, name, key_prefix, key_hash, key_type)
    values ('66666666-6666-4666-8666-666666666666', 'ci', 'lk_cicicicic', sha256('ci'), 'ci')$$,
  '42501', null, 'a user cannot choose the key type'
);
select is_empty(
  $$update latchkey.api_keys set revoked_at = now()
    where id = '77777777-0000-4000-8000-000000000001' returning id$$,
  'a user cannot revoke someone else''s key'
);
select throws_ok(
  $$update latchkey.api_keys set scopes = '{users:write}'$$,
  '42501', null, 'a user cannot change a key''s scopes'
);
select throws_ok(
  $$update latchkey.api_keys set rate_limit_per_minute = 1000000$$,
  '42501', null, 'a user cannot raise a key''s rate limit'
);
select throws_ok(
  $$select * from latchkey.api_key_meters$$,
  '42501', null, 'the meters'' GCRA state is not readable'
);
select throws_ok(
  $$select * from latchkey.check_api_key(sha256('lee-key'), '{}')$$,
  '42501', null, 'the hot-path function is not callable by API roles'
);

select set_config('latchkey.caller',
  '{"sub": "88888888-8888-4888-8888-888888888888", "app_role": "support",
    "permissions": ["users:read", "keys:read", "keys:revoke", "sessions:revoke", "audit:read"]}',
  true);
select is(
  (select count(*)::int from latchkey.api_keys where name in ('kim key', 'lee key')), 2,
  'support reads every key'
);
select throws_ok(
  $$insert into latchkey.api_keys (user_id, name, key_prefix, key_hash)
    values ('66666666-6666-4666-8666-666666666666', 'sup', 'lk_supsupsup', sha256('sup'))$$,
  '42501', null, 'support cannot create keys for others'
);

select * from finish();
rollback;
