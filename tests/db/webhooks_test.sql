-- Webhooks: who may read and write latchkey.webhook_endpoints and latchkey.webhook_deliveries
-- (secrets and payloads never to a caller), the step-up, and the outbox trigger (an event is
-- queued in its own transaction, for the enabled endpoints that want it, and only then), the
-- lease and the give-up.
begin;
select plan(37);

insert into latchkey.users (id, email, name, role) values
  ('c3c3c3c3-0000-4000-8000-000000000001', 'root@hooks.test', 'Root', 'admin'),
  ('c3c3c3c3-0000-4000-8000-000000000002', 'sam@hooks.test', 'Sam', 'support');

select results_eq(
  $$select permission from latchkey.role_permissions
    where permission like 'webhooks:%' order by 1$$,
  $$values ('webhooks:read'), ('webhooks:write')$$,
  'admin alone holds webhooks:read and webhooks:write'
);
select is(
  (select array_agg(distinct role) from latchkey.role_permissions where permission like 'webhooks:%'),
  array['admin'], 'no other role holds a webhook permission'
);

-- The API roles reach neither table.
set local role anon;
select throws_ok('select * from latchkey.webhook_endpoints', '42501', null,
  'anon cannot read webhook endpoints');
select throws_ok('select * from latchkey.webhook_deliveries', '42501', null,
  'anon cannot read webhook deliveries');
reset role;
set local role authenticated;
select throws_ok('select * from latchkey.webhook_endpoints', '42501', null,
  'authenticated cannot read webhook endpoints');
select throws_ok('select * from latchkey.webhook_deliveries', '42501', null,
  'authenticated cannot read webhook deliveries');
reset role;
set local role service_role;
select throws_ok('select * from latchkey.webhook_endpoints', '42501', null,
  'service_role cannot read webhook endpoints');
select throws_ok('select * from latchkey.webhook_deliveries', '42501', null,
  'service_role cannot read webhook deliveries');
reset role;

-- A writer (an admin's API key scoped to webhooks:write: no step-up asked of keys).
set local role latchkey_caller;
select set_config('latchkey.caller',
  '{"sub": "c3c3c3c3-0000-4000-8000-000000000001", "app_role": "admin",
    "principal_kind": "api_key", "permissions": ["webhooks:write"]}', true);
select lives_ok($$
  insert into latchkey.webhook_endpoints (id, url, events, secret_ciphertext) values
    ('d4d4d4d4-0000-4000-8000-000000000001', 'https://a.hooks.test/', '{auth.*}', '\x01'),
    ('d4d4d4d4-0000-4000-8000-000000000002', 'https://b.hooks.test/', '{admin.user_updated}', '\x02'),
    ('d4d4d4d4-0000-4000-8000-000000000003', 'https://c.hooks.test/', '{*}', '\x03')
$$, 'a webhooks:write caller registers endpoints');
select throws_ok('select secret_ciphertext from latchkey.webhook_endpoints', '42501', null,
  'not even a writer reads a secret back');
select throws_ok('select previous_secret_ciphertext from latchkey.webhook_endpoints', '42501',
  null, 'nor the previous one');
select lives_ok($$update latchkey.webhook_endpoints set enabled = false
  where id = 'd4d4d4d4-0000-4000-8000-000000000003'$$, 'a writer disables an endpoint');
select throws_ok($$update latchkey.webhook_endpoints set secret_ciphertext = '\x09'$$, '42501',
  null, 'a secret is replaced only through rotate_webhook_secret');

-- A reader: sees the endpoints, writes nothing.
select set_config('latchkey.caller',
  '{"sub": "c3c3c3c3-0000-4000-8000-000000000001", "app_role": "admin",
    "principal_kind": "api_key", "permissions": ["webhooks:read"]}', true);
select is((select count(*)::int from latchkey.webhook_endpoints
  where id::text like 'd4d4d4d4-%'), 3, 'a webhooks:read caller lists endpoints');
select throws_ok($$insert into latchkey.webhook_endpoints (id, url, events, secret_ciphertext)
  values (gen_random_uuid(), 'https://x.hooks.test/', '{*}', '\x00')$$, '42501', null,
  'a reader cannot register an endpoint');
select is_empty($$update latchkey.webhook_endpoints set description = 'x' returning id$$,
  'a reader changes no endpoint');
select is_empty($$delete from latchkey.webhook_endpoints returning id$$,
  'a reader deletes no endpoint');
select throws_ok($$select latchkey.rotate_webhook_secret('d4d4d4d4-0000-4000-8000-000000000001',
  '\x05', interval '1 hour')$$, '42501', null, 'a reader cannot rotate a secret');

-- Support (audit:read and the rest, no webhook permission): nothing at all.
select set_config('latchkey.caller',
  '{"sub": "c3c3c3c3-0000-4000-8000-000000000002", "app_role": "support",
    "principal_kind": "api_key", "permissions": ["users:read", "audit:read"]}', true);
select is_empty($$select id from latchkey.webhook_endpoints$$,
  'a caller without a webhook permission sees no endpoint');
-- A role that does not hold the permission gets nothing from a claim to it either.
select set_config('latchkey.caller',
  '{"sub": "c3c3c3c3-0000-4000-8000-000000000002", "app_role": "support",
    "principal_kind": "api_key", "permissions": ["webhooks:read", "webhooks:write"]}', true);
select is_empty($$select id from latchkey.webhook_endpoints$$,
  'permissions the role does not hold count for nothing');

-- An admin session without a recent second factor: the database asks for the step-up.
select set_config('latchkey.caller',
  '{"sub": "c3c3c3c3-0000-4000-8000-000000000001", "app_role": "admin",
    "principal_kind": "session", "aal": "aal2", "mfa_required": false,
    "second_factor_at": 0, "step_up_seconds": 600,
    "permissions": ["webhooks:read", "webhooks:write"]}', true);
select throws_ok($$insert into latchkey.webhook_endpoints (id, url, events, secret_ciphertext)
  values (gen_random_uuid(), 'https://x.hooks.test/', '{*}', '\x00')$$, 'P0001', null,
  'registering an endpoint needs a step-up');
select throws_ok($$update latchkey.webhook_endpoints set url = 'https://elsewhere.hooks.test/'
  where id = 'd4d4d4d4-0000-4000-8000-000000000001'$$, 'P0001', null,
  'pointing an endpoint elsewhere needs a step-up');
select throws_ok($$update latchkey.webhook_endpoints set enabled = true
  where id = 'd4d4d4d4-0000-4000-8000-000000000003'$$, 'P0001', null,
  'enabling an endpoint needs a step-up');
select lives_ok($$update latchkey.webhook_endpoints set description = 'ours'
  where id = 'd4d4d4d4-0000-4000-8000-000000000001'$$,
  'a description needs none');
reset role;

-- The outbox trigger: every audit row, for the enabled endpoints that want its action.
select latchkey.append_audit_event('session', 'c3c3c3c3-0000-4000-8000-000000000001', null,
  'auth.sign_in', 'user', 'c3c3c3c3-0000-4000-8000-000000000001', '{"requestId": "hooks-1"}');
select latchkey.append_audit_event('admin_key', null, null, 'admin.user_updated', 'user',
  'c3c3c3c3-0000-4000-8000-000000000002', '{"requestId": "hooks-2"}');
-- `auth_x.thing` must not match `auth.*` (no LIKE wildcards in a prefix).
select latchkey.append_audit_event('system', null, null, 'authx.fixture', null, null, '{}');
select results_eq(
  $$select e.url, d.event_type from latchkey.webhook_deliveries d
    join latchkey.webhook_endpoints e on e.id = d.endpoint_id
    where d.endpoint_id::text like 'd4d4d4d4-%' order by 1, 2$$,
  $$values ('https://a.hooks.test/', 'auth.sign_in'),
    ('https://b.hooks.test/', 'admin.user_updated')$$,
  'each event is queued for the enabled endpoints that want it, and only those'
);
select is(
  (select payload #>> '{data,targetEmail}' from latchkey.webhook_deliveries
    where event_type = 'admin.user_updated' and endpoint_id = 'd4d4d4d4-0000-4000-8000-000000000002'),
  'sam@hooks.test', 'the message carries the event as the audit API shows it'
);
select is(
  (select array[payload ->> 'type', (payload ->> 'timestamp' = payload #>> '{data,createdAt}')::text,
    payload #>> '{data,requestId}']::text[]
    from latchkey.webhook_deliveries
    where endpoint_id = 'd4d4d4d4-0000-4000-8000-000000000001'),
  array['auth.sign_in', 'true', 'hooks-1'], '{type, timestamp, data}'
);
savepoint before_rollback;
select latchkey.append_audit_event('system', null, null, 'auth.sign_out', null, null, '{}');
rollback to savepoint before_rollback;
select is(
  (select count(*)::int from latchkey.webhook_deliveries where event_type = 'auth.sign_out'),
  0, 'a rolled-back event queues nothing'
);

-- Callers read the delivery log, never a payload; writers re-deliver.
set local role latchkey_caller;
select set_config('latchkey.caller',
  '{"sub": "c3c3c3c3-0000-4000-8000-000000000001", "app_role": "admin",
    "principal_kind": "api_key", "permissions": ["webhooks:read"]}', true);
select is((select count(*)::int from latchkey.webhook_deliveries
  where endpoint_id::text like 'd4d4d4d4-%'), 2, 'a reader reads the delivery log');
select throws_ok('select payload from latchkey.webhook_deliveries', '42501', null,
  'a payload is audit data: not for webhooks:read');
select is_empty($$update latchkey.webhook_deliveries set next_attempt_at = now() returning id$$,
  'a reader cannot re-deliver');
select throws_ok('insert into latchkey.webhook_deliveries (endpoint_id, event_id, event_type, payload)
  values (''d4d4d4d4-0000-4000-8000-000000000001'', gen_random_uuid(), ''x.y'', ''{}'')',
  '42501', null, 'no caller queues a message');
select throws_ok($$select * from latchkey.claim_webhook_deliveries('{}', 4, 50, interval '30 s')$$,
  '42501', null, 'no caller may claim messages (they carry the secrets)');
reset role;

-- The lease: a claimed message is not handed out again while its attempt runs.
select is((select count(*)::int from latchkey.claim_webhook_deliveries('{}', 4, 50,
  interval '30 seconds') where endpoint_id::text like 'd4d4d4d4-%'), 2, 'due messages are claimed');
select is((select count(*)::int from latchkey.claim_webhook_deliveries('{}', 4, 50,
  interval '30 seconds') where endpoint_id::text like 'd4d4d4d4-%'), 0,
  'a leased message is not claimed twice');
-- Given up after the last attempt.
select latchkey.record_webhook_attempt(id, false, 500, 'boom', 12, 1)
  from latchkey.webhook_deliveries where endpoint_id = 'd4d4d4d4-0000-4000-8000-000000000001';
select results_eq(
  $$select failed_at is not null, last_status, last_error, leased_until is null
    from latchkey.webhook_deliveries where endpoint_id = 'd4d4d4d4-0000-4000-8000-000000000001'$$,
  $$values (true, 500, 'boom', true)$$,
  'after the last attempt a message is failed, with the last status and excerpt'
);

-- A deleted endpoint takes its queued messages with it.
delete from latchkey.webhook_endpoints where id = 'd4d4d4d4-0000-4000-8000-000000000002';
select is((select count(*)::int from latchkey.webhook_deliveries
  where endpoint_id = 'd4d4d4d4-0000-4000-8000-000000000002'), 0,
  'deleting an endpoint deletes its messages');

select * from finish();
rollback;
