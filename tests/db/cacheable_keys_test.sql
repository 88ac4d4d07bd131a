-- Cacheable keys (20261221000100): which key may be cached and for how long, decided in SQL;
-- who may lift a rate limit; the cached uses' function. Without any route.
begin;
select plan(19);

insert into latchkey.users (id, email, name, role) values
  ('c1c1c1c1-0000-4000-8000-000000000001', 'cam@cache.test', 'Cam', 'user'),
  ('c1c1c1c1-0000-4000-8000-000000000002', 'dee@cache.test', 'Dee', 'user');
insert into latchkey.api_keys (id, user_id, name, key_prefix, key_hash, rate_limit_per_minute,
  cache_seconds, remaining, expires_at) values
  ('c1c1c1c1-0000-4000-8000-00000000000a', 'c1c1c1c1-0000-4000-8000-000000000001', 'cached',
    'lk_cachedxxx', sha256('cached'), null, 30, null, null),
  ('c1c1c1c1-0000-4000-8000-00000000000b', 'c1c1c1c1-0000-4000-8000-000000000001', 'default',
    'lk_defaultxx', sha256('default'), null, null, null, null),
  ('c1c1c1c1-0000-4000-8000-00000000000c', 'c1c1c1c1-0000-4000-8000-000000000001', 'opted out',
    'lk_optedoutx', sha256('opted out'), null, 0, null, null),
  ('c1c1c1c1-0000-4000-8000-00000000000d', 'c1c1c1c1-0000-4000-8000-000000000001', 'limited',
    'lk_limitedxx', sha256('limited'), 60, null, null, null),
  ('c1c1c1c1-0000-4000-8000-00000000000e', 'c1c1c1c1-0000-4000-8000-000000000001', 'credits',
    'lk_creditsxx', sha256('credits'), null, null, 10, null),
  ('c1c1c1c1-0000-4000-8000-00000000000f', 'c1c1c1c1-0000-4000-8000-000000000001', 'expiring',
    'lk_expiringx', sha256('expiring'), null, 300, null, now() + interval '20 seconds');

select is(
  array[
    latchkey.key_cache_seconds('c1c1c1c1-0000-4000-8000-00000000000a', 0),
    latchkey.key_cache_seconds('c1c1c1c1-0000-4000-8000-00000000000b', 0),
    latchkey.key_cache_seconds('c1c1c1c1-0000-4000-8000-00000000000b', 45),
    latchkey.key_cache_seconds('c1c1c1c1-0000-4000-8000-00000000000c', 45)
  ],
  array[30, null, 45, null]::integer[],
  'its own setting, else the deployment''s; 0 never'
);
select is(
  array[
    latchkey.key_cache_seconds('c1c1c1c1-0000-4000-8000-00000000000d', 45),
    latchkey.key_cache_seconds('c1c1c1c1-0000-4000-8000-00000000000e', 45)
  ],
  array[null, null]::integer[],
  'a key with a rate limit or credits is never cached, whatever the deployment allows'
);
select ok(
  latchkey.key_cache_seconds('c1c1c1c1-0000-4000-8000-00000000000f', 0) between 15 and 20,
  'never past the key''s expiry'
);

-- In a rotation's overlap the successor's limits bind the old key, so its cache too.
insert into latchkey.api_keys (id, user_id, name, key_prefix, key_hash, rate_limit_per_minute)
values ('c1c1c1c1-0000-4000-8000-0000000000aa', 'c1c1c1c1-0000-4000-8000-000000000001',
  'successor', 'lk_successor', sha256('successor'), 60);
update latchkey.api_keys set replaced_by = 'c1c1c1c1-0000-4000-8000-0000000000aa'
where id = 'c1c1c1c1-0000-4000-8000-00000000000a';
select is(
  latchkey.key_cache_seconds('c1c1c1c1-0000-4000-8000-00000000000a', 0), null,
  'a key whose successor has a rate limit is not cached'
);
update latchkey.api_keys set replaced_by = null
where id = 'c1c1c1c1-0000-4000-8000-00000000000a';

-- A key limited to networks or origins is answered by where it is used from: never held.
update latchkey.api_keys set allowed_networks = '{10.0.0.0/8}'
where id = 'c1c1c1c1-0000-4000-8000-00000000000a';
select is(
  latchkey.key_cache_seconds('c1c1c1c1-0000-4000-8000-00000000000a', 45), null,
  'a key with network limits is not cached, whatever its setting'
);
update latchkey.api_keys set allowed_networks = '{}', allowed_origins = '{https://app.example}'
where id = 'c1c1c1c1-0000-4000-8000-00000000000a';
select is(
  latchkey.key_cache_seconds('c1c1c1c1-0000-4000-8000-00000000000a', 45), null,
  'nor one with origin limits'
);
update latchkey.api_keys set allowed_origins = '{}'
where id = 'c1c1c1c1-0000-4000-8000-00000000000a';

update latchkey.users set credits = 100 where id = 'c1c1c1c1-0000-4000-8000-000000000001';
select is(
  latchkey.key_cache_seconds('c1c1c1c1-0000-4000-8000-00000000000a', 0), null,
  'an account with credits: none of its keys is cached'
);
update latchkey.users set credits = null where id = 'c1c1c1c1-0000-4000-8000-000000000001';

select throws_ok(
  $$update latchkey.api_keys set cache_seconds = 30
    where id = 'c1c1c1c1-0000-4000-8000-00000000000d'$$,
  '23514', null, 'a key with a rate limit cannot be marked cacheable, whatever writes the row'
);
select throws_ok(
  $$update latchkey.api_keys set cache_seconds = 301
    where id = 'c1c1c1c1-0000-4000-8000-00000000000a'$$,
  '23514', null, 'at most 300 seconds'
);

-- The key check: a key with no rate limit is counted, never limited.
select is(
  (select array_agg(v.code) from generate_series(1, 5) as g (n),
    latchkey.check_api_key(sha256('cached'), jsonb_build_object('n', g.n)) as v),
  array['VALID', 'VALID', 'VALID', 'VALID', 'VALID'],
  'no rate limit: always allowed'
);
select is(
  (select valid from latchkey.api_key_meters where key_id = 'c1c1c1c1-0000-4000-8000-00000000000a'),
  5, 'and counted on its meter'
);

-- The owner, through update_api_key.
set local role latchkey_caller;
select set_config('latchkey.caller',
  '{"sub": "c1c1c1c1-0000-4000-8000-000000000001", "app_role": "user",
    "principal_kind": "session"}', true);
select is(
  latchkey.update_api_key('c1c1c1c1-0000-4000-8000-00000000000d', '{"cacheSeconds": 30}'),
  'not_cacheable', 'the owner cannot cache a key with a rate limit'
);
select is(
  latchkey.update_api_key('c1c1c1c1-0000-4000-8000-00000000000b', '{"cacheSeconds": 60}'),
  'updated', 'the owner caches a key with none'
);
select is(
  latchkey.update_api_key('c1c1c1c1-0000-4000-8000-00000000000b',
    '{"rateLimitPerMinute": null}'),
  'forbidden', 'only a key writer changes a rate limit, to none too'
);
select throws_ok(
  $$insert into latchkey.api_keys (user_id, name, key_prefix, key_hash, rate_limit_per_minute)
    values ('c1c1c1c1-0000-4000-8000-000000000001', 'sneaky', 'lk_sneakyxxx', sha256('sneaky'),
      null)$$,
  '42501', null, 'a self-service key always has a rate limit'
);
select ok(
  not has_function_privilege('latchkey_caller', 'latchkey.record_cached_key_uses(jsonb)',
    'execute')
  and not has_function_privilege('latchkey_caller', 'latchkey.key_cache_seconds(uuid, integer)',
    'execute'),
  'API roles call neither the cached uses'' function nor the cache''s'
);

-- A key writer adds a rate limit: the key's cache ends in the same change.
select set_config('latchkey.caller',
  '{"app_role": "admin", "principal_kind": "admin_key", "aal": "aal2", "mfa_required": false,
    "permissions": ["keys:write", "keys:read", "users:read"]}', true);
select is(
  latchkey.update_api_key('c1c1c1c1-0000-4000-8000-00000000000b', '{"rateLimitPerMinute": 10}'),
  'updated', 'a key writer sets a rate limit'
);
reset role;
select is(
  (select array[rate_limit_per_minute, cache_seconds] from latchkey.api_keys
   where id = 'c1c1c1c1-0000-4000-8000-00000000000b'),
  array[10, null]::integer[],
  'and the cache it had is gone'
);

-- Cached uses: only of keys a cache could have answered.
select is(
  latchkey.record_cached_key_uses(jsonb_build_array(
    jsonb_build_object('hash', encode(sha256('cached'), 'hex'), 'count', 7,
      'lastUsedAt', now()),
    jsonb_build_object('hash', encode(sha256('limited'), 'hex'), 'count', 7,
      'lastUsedAt', now()),
    jsonb_build_object('hash', encode(sha256('nobody'), 'hex'), 'count', 7,
      'lastUsedAt', now())
  )),
  1, 'only the cacheable key''s uses are recorded'
);

select * from finish();
rollback;
