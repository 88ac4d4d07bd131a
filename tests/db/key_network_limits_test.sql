-- A key's network limits (20261220000100): the lists' shape, who may set them, and the key
-- check's refusal, taken before the rate limit or a credit and audited once a minute.
begin;
select plan(24);

insert into latchkey.users (id, email, name, role) values
  ('a1000000-0000-4000-8000-000000000001', 'nia@net.test', 'Nia', 'user');
insert into latchkey.api_keys (
  id, user_id, name, key_prefix, key_hash, allowed_networks, allowed_origins, remaining,
  rate_limit_per_minute
) values
  ('a1000000-0000-4000-8000-0000000000a1', 'a1000000-0000-4000-8000-000000000001', 'office',
    'lk_office000', sha256('office-key'), '{203.0.113.0/24,2001:db8:42::/48}', '{}', 5, 2),
  ('a1000000-0000-4000-8000-0000000000a2', 'a1000000-0000-4000-8000-000000000001', 'browser',
    'lk_browser00', sha256('browser-key'), '{}', '{https://app.example.com}', null, 60),
  ('a1000000-0000-4000-8000-0000000000a3', 'a1000000-0000-4000-8000-000000000001', 'free',
    'lk_free00000', sha256('free-key'), '{}', '{}', null, 60);

-- The flag the key check reads follows the lists, whatever a writer says.
select results_eq(
  $$select name, network_limited from latchkey.api_keys
    where user_id = 'a1000000-0000-4000-8000-000000000001' order by name$$,
  $$values ('browser'::text, true), ('free', false), ('office', true)$$,
  'a key with either list is marked limited'
);
select results_eq(
  $$with changed as (
    update latchkey.api_keys set network_limited = true
    where id = 'a1000000-0000-4000-8000-0000000000a3' returning network_limited
  ) select * from changed$$,
  $$values (false)$$, 'the flag cannot be set apart from the lists'
);

-- The lists' shape: the database's own check, whatever the service sent.
select throws_ok(
  $$update latchkey.api_keys set allowed_networks = '{10.1.2.3/8}'
    where id = 'a1000000-0000-4000-8000-0000000000a3'$$,
  '22P02', null, 'a network with bits after its prefix is no cidr'
);
select throws_ok(
  $$update latchkey.api_keys set allowed_origins = '{https://app.example.com/path}'
    where id = 'a1000000-0000-4000-8000-0000000000a3'$$,
  '23514', null, 'an origin has no path'
);
select throws_ok(
  $$update latchkey.api_keys set allowed_origins = '{HTTPS://App.Example.com}'
    where id = 'a1000000-0000-4000-8000-0000000000a3'$$,
  '23514', null, 'origins are stored in lower case, as browsers send them'
);
select throws_ok(
  $$update latchkey.api_keys set allowed_networks = array_fill('192.0.2.1'::cidr, '{65}')
    where id = 'a1000000-0000-4000-8000-0000000000a3'$$,
  '23514', null, 'at most 64 networks'
);

-- The check, as Latchkey's functions run it.
select results_eq(
  $$select code, metadata from latchkey.check_api_key(sha256('office-key'),
    '{"clientAddress": "198.51.100.7"}')$$,
  $$values ('NETWORK_NOT_ALLOWED'::text,
    '{"networkRefusal": "address_not_allowed"}'::jsonb)$$,
  'an address outside the networks is refused, saying why'
);
select results_eq(
  $$select credits_remaining, rate_limit_remaining from latchkey.check_api_key(
    sha256('office-key'), '{"clientAddress": "198.51.100.7"}')$$,
  $$values (5, null::integer)$$,
  'a refused use takes no credit and is not metered'
);
select is_empty(
  $$select 1 from latchkey.api_key_meters
    where key_id = 'a1000000-0000-4000-8000-0000000000a1' and tat is not null$$,
  'no rate-limit state was written for it'
);
select results_eq(
  $$select rejected from latchkey.api_key_meters
    where key_id = 'a1000000-0000-4000-8000-0000000000a1'$$,
  $$values (2)$$, 'the refusals count as rejected in the usage history'
);
select results_eq(
  $$select code, credits_remaining from latchkey.check_api_key(sha256('office-key'),
    '{"clientAddress": "203.0.113.77"}')$$,
  $$values ('VALID'::text, 4)$$, 'inside an IPv4 network: valid, one credit taken'
);
select results_eq(
  $$select code from latchkey.check_api_key(sha256('office-key'),
    '{"clientAddress": "2001:db8:42:1::9"}')$$,
  $$values ('VALID'::text)$$, 'inside an IPv6 prefix: valid'
);
select results_eq(
  $$select code from latchkey.check_api_key(sha256('office-key'),
    '{"clientAddress": "2001:db8:43::9"}')$$,
  $$values ('NETWORK_NOT_ALLOWED'::text)$$, 'outside it: refused'
);
select results_eq(
  $$select metadata from latchkey.check_api_key(sha256('office-key'), '{"ip": "203.0.113.5"}')$$,
  $$values ('{"networkRefusal": "address_missing"}'::jsonb)$$,
  'no client address: refused (the audit''s ip is not the client''s), fail closed'
);
select results_eq(
  $$select metadata from latchkey.check_api_key(sha256('office-key'),
    '{"clientAddress": "not an address"}')$$,
  $$values ('{"networkRefusal": "address_not_allowed"}'::jsonb)$$,
  'an address that is none is refused, not an error'
);
select results_eq(
  $$select code, metadata from latchkey.check_api_key(sha256('browser-key'), '{}')$$,
  $$values ('NETWORK_NOT_ALLOWED'::text, '{"networkRefusal": "origin_missing"}'::jsonb)$$,
  'an origin limit without an Origin: refused'
);
select results_eq(
  $$select code from latchkey.check_api_key(sha256('browser-key'),
    '{"origin": "https://evil.example.com"}')$$,
  $$values ('NETWORK_NOT_ALLOWED'::text)$$, 'another origin: refused'
);
select results_eq(
  $$select code, metadata from latchkey.check_api_key(sha256('browser-key'),
    '{"origin": "HTTPS://APP.EXAMPLE.COM"}')$$,
  $$values ('VALID'::text, '{}'::jsonb)$$, 'a listed origin (in any case): valid'
);
select results_eq(
  $$select code from latchkey.check_api_key(sha256('free-key'), '{}')$$,
  $$values ('VALID'::text)$$, 'no limits: as before, whatever the request says'
);
select results_eq(
  $$select count(*)::int, min(metadata ->> 'reason') from latchkey.audit_events
    where action = 'api_key.network_refused'
      and target_id = 'a1000000-0000-4000-8000-0000000000a1'$$,
  $$values (1, 'address_not_allowed')$$,
  'five refusals of one key within a minute: one audit event'
);
select results_eq(
  $$select (metadata ->> 'repeatsInPreviousMinute')::int from latchkey.audit_events
    where action = 'api_key.network_refused'
      and target_id = 'a1000000-0000-4000-8000-0000000000a2'$$,
  $$values (0)$$, 'another key''s refusal has its own'
);

-- Who sets them: the owner in person, not the key itself.
set local role latchkey_caller;
select set_config('latchkey.caller', '{"sub": "a1000000-0000-4000-8000-000000000001",
  "app_role": "user", "principal_kind": "api_key",
  "credential_id": "a1000000-0000-4000-8000-0000000000a1"}', true);
select is(
  latchkey.update_api_key('a1000000-0000-4000-8000-0000000000a1', '{"allowedNetworks": []}'),
  'own_network_limits', 'a key cannot lift its own network limits'
);
select set_config('latchkey.caller', '{"sub": "a1000000-0000-4000-8000-000000000001",
  "app_role": "user", "principal_kind": "session"}', true);
select is(
  latchkey.update_api_key('a1000000-0000-4000-8000-0000000000a1',
    '{"allowedNetworks": ["192.0.2.0/24"], "allowedOrigins": ["https://a.example"]}'),
  'updated', 'its owner''s session can'
);
reset role;
select results_eq(
  $$select allowed_networks::text[], allowed_origins from latchkey.api_keys
    where id = 'a1000000-0000-4000-8000-0000000000a1'$$,
  $$values ('{192.0.2.0/24}'::text[], '{https://a.example}'::text[])$$,
  'and the lists are what it set'
);

select * from finish();
rollback;
