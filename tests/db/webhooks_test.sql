-- Webhooks: who may read and write latchkey.webhook_endpoints and latchkey.webhook_deliveries
-- (secrets and payloads never to a caller), the step-up, and the outbox trigger (an event is
-- queued in its own transaction, for the enabled endpoints that want it, and only then), the
-- lease and the give-up, the backlog cap (oldest dropped, audited once a minute) and retention.
begin;
select plan(67);

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
  $$select event_type from latchkey.webhook_queue
    where event_type in ('auth.sign_in', 'admin.user_updated', 'authx.fixture') order by seq$$,
  $$values ('auth.sign_in'), ('admin.user_updated'), ('authx.fixture')$$,
  'while an endpoint is enabled, the event''s own transaction queues it: one row each'
);
select latchkey.fan_out_webhook_queue(1000);
select results_eq(
  $$select e.url, d.event_type from latchkey.webhook_deliveries d
    join latchkey.webhook_endpoints e on e.id = d.endpoint_id
    where d.endpoint_id::text like 'd4d4d4d4-%' order by 1, 2$$,
  $$values ('https://a.hooks.test/', 'auth.sign_in'),
    ('https://b.hooks.test/', 'admin.user_updated')$$,
  'each event is queued for the enabled endpoints that want it, and only those'
);
select is(
  (select count(*)::int from latchkey.webhook_deliveries
    where endpoint_id::text like 'd4d4d4d4-%' and payload is null),
  2, 'a message is queued without its body (built once, at its first claim)'
);
savepoint before_rollback;
select latchkey.append_audit_event('system', null, null, 'auth.sign_out', null, null, '{}');
rollback to savepoint before_rollback;
select latchkey.fan_out_webhook_queue(1000);
select is(
  (select count(*)::int from latchkey.webhook_deliveries where event_type = 'auth.sign_out'),
  0, 'a rolled-back event queues nothing'
);
savepoint none_enabled;
update latchkey.webhook_endpoints set enabled = false;
select latchkey.append_audit_event('system', null, null, 'nobody.listens', null, null, '{}');
select is((select count(*)::int from latchkey.webhook_queue where event_type = 'nobody.listens'),
  0, 'with no endpoint enabled, an event queues nothing (an audited change pays one lookup)');
rollback to savepoint none_enabled;

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
select is(
  (select payload #>> '{data,targetEmail}' from latchkey.webhook_deliveries
    where event_type = 'admin.user_updated' and endpoint_id = 'd4d4d4d4-0000-4000-8000-000000000002'),
  'sam@hooks.test', 'the claim built the message: the event as the audit API shows it'
);
select is(
  (select array[payload ->> 'type', (payload ->> 'timestamp' = payload #>> '{data,createdAt}')::text,
    payload #>> '{data,requestId}']::text[]
    from latchkey.webhook_deliveries
    where endpoint_id = 'd4d4d4d4-0000-4000-8000-000000000001'),
  array['auth.sign_in', 'true', 'hooks-1'], '{type, timestamp, data}'
);
-- A message whose event is gone from the audit log (its retention ended before a late
-- re-delivery) has nothing to send: failed, saying why, never handed out.
insert into latchkey.webhook_deliveries (id, endpoint_id, event_id, event_type) values
  ('e9000000-0000-4000-8000-000000000001', 'd4d4d4d4-0000-4000-8000-000000000001',
   gen_random_uuid(), 'auth.sign_in');
select is((select count(*)::int from latchkey.claim_webhook_deliveries('{}', 4, 50,
  interval '30 seconds', 'd4d4d4d4-0000-4000-8000-000000000001')), 0,
  'a message without its event is not handed out');
select results_eq(
  $$select failed_at is not null, leased_until is null, last_error like '%no longer in the audit log%'
    from latchkey.webhook_deliveries where id = 'e9000000-0000-4000-8000-000000000001'$$,
  $$values (true, true, true)$$,
  'it is failed, with the reason in its log'
);
delete from latchkey.webhook_deliveries where id = 'e9000000-0000-4000-8000-000000000001';
-- Given up after the last attempt.
select latchkey.record_webhook_attempt(id, false, 500, 'boom', 12, 1)
  from latchkey.webhook_deliveries where endpoint_id = 'd4d4d4d4-0000-4000-8000-000000000001';
select results_eq(
  $$select failed_at is not null, last_status, last_error, leased_until is null
    from latchkey.webhook_deliveries where endpoint_id = 'd4d4d4d4-0000-4000-8000-000000000001'$$,
  $$values (true, 500, 'boom', true)$$,
  'after the last attempt a message is failed, with the last status and excerpt'
);

-- A lane's own claim: that endpoint's messages only.
insert into latchkey.webhook_deliveries (endpoint_id, event_id, event_type, payload) values
  ('d4d4d4d4-0000-4000-8000-000000000001', gen_random_uuid(), 'auth.sign_in', '{}'),
  ('d4d4d4d4-0000-4000-8000-000000000002', gen_random_uuid(), 'admin.user_updated', '{}');
select results_eq(
  $$select endpoint_id from latchkey.claim_webhook_deliveries('{}', 4, 50, interval '30 s',
    'd4d4d4d4-0000-4000-8000-000000000002')$$,
  $$values ('d4d4d4d4-0000-4000-8000-000000000002'::uuid)$$,
  'a claim for one endpoint claims nothing of another'
);
select is(
  (select array[(next_attempt_at = created_at)::text, (leased_until > now())::text]
    from latchkey.webhook_deliveries
    where endpoint_id = 'd4d4d4d4-0000-4000-8000-000000000002' and payload = '{}'),
  array['true', 'true'], 'a claim leases a message and leaves when it was due'
);
select latchkey.record_webhook_attempt(id, false, 503, 'busy', 5, 12)
from latchkey.webhook_deliveries
where endpoint_id = 'd4d4d4d4-0000-4000-8000-000000000002' and payload = '{}';
select is(
  (select next_attempt_at - now() from latchkey.webhook_deliveries
    where endpoint_id = 'd4d4d4d4-0000-4000-8000-000000000002' and payload = '{}'),
  interval '10 seconds', 'a failure is due again 10 s after its outcome (the first backoff)'
);

-- The backlog cap. Endpoint 4 hears webhook.* (so its own drop's event joins its backlog),
-- endpoint 5 does not; ten messages each, a second apart, the oldest first; 5's oldest is in
-- flight.
insert into latchkey.webhook_endpoints (id, url, events, secret_ciphertext) values
  ('d4d4d4d4-0000-4000-8000-000000000004', 'https://d.hooks.test/', '{webhook.*}', '\x04'),
  ('d4d4d4d4-0000-4000-8000-000000000005', 'https://e.hooks.test/', '{admin.*}', '\x05');
insert into latchkey.webhook_deliveries (id, endpoint_id, event_id, event_type, payload,
  created_at, leased_until)
select format('e%s000000-0000-4000-8000-0000000000%s', e, lpad(g::text, 2, '0'))::uuid,
  format('d4d4d4d4-0000-4000-8000-00000000000%s', e)::uuid, gen_random_uuid(), 'cap.fixture',
  '{}', now() - (20 - g) * interval '1 second',
  case when e = 5 and g = 1 then now() + interval '30 s' end
from generate_series(4, 5) e, generate_series(1, 10) g;
select results_eq(
  $$select dropped, more from latchkey.trim_webhook_backlogs(6, 1000)$$,
  $$values (8, false)$$,
  'a trim drops what is over the limit: 5 of endpoint 4, 3 of endpoint 5'
);
select results_eq(
  $$select right(id::text, 2) from latchkey.webhook_deliveries
    where endpoint_id::text like 'd4d4d4d4-%-00000000000_' and dropped_at is not null
    order by endpoint_id, created_at$$,
  $$values ('01'), ('02'), ('03'), ('04'), ('05'), ('02'), ('03'), ('04')$$,
  'the oldest are dropped; the one in flight is left to its attempt'
);
select is(
  (select count(*)::int from latchkey.webhook_deliveries
   where dropped_at is not null and (failed_at is null or delivered_at is not null)),
  0, 'a dropped message is given up, so no claim sees it again'
);
select latchkey.fan_out_webhook_queue(1000);
select results_eq(
  $$select endpoint_id, count(*)::int from latchkey.webhook_deliveries
    where endpoint_id in ('d4d4d4d4-0000-4000-8000-000000000004',
      'd4d4d4d4-0000-4000-8000-000000000005')
      and delivered_at is null and failed_at is null
    group by 1 order by 1$$,
  $$values ('d4d4d4d4-0000-4000-8000-000000000004'::uuid, 7),
    ('d4d4d4d4-0000-4000-8000-000000000005'::uuid, 7)$$,
  'the limit holds with the drop''s own message (4 also hears 5''s, queued after 4''s trim); ' ||
  'the one in flight is over it until its attempt ends'
);
select results_eq(
  $$select target_id, actor_kind, metadata from latchkey.audit_events
    where action = 'webhook.backlog_dropped' order by metadata ->> 'dropped' desc$$,
  $$values ('d4d4d4d4-0000-4000-8000-000000000004'::uuid, 'system',
      '{"dropped": 5, "limit": 6, "droppedSincePreviousEvent": 0}'::jsonb),
    ('d4d4d4d4-0000-4000-8000-000000000005'::uuid, 'system',
      '{"dropped": 3, "limit": 6, "droppedSincePreviousEvent": 0}'::jsonb)$$,
  'each endpoint''s drop is audited: how many, and the limit'
);
select results_eq(
  $$select d.endpoint_id from latchkey.webhook_deliveries d
    where d.event_type = 'webhook.backlog_dropped'$$,
  $$values ('d4d4d4d4-0000-4000-8000-000000000004'::uuid),
    ('d4d4d4d4-0000-4000-8000-000000000004'::uuid)$$,
  'the drops'' events are queued like any other, to who wants them'
);
-- More within the minute: dropped, counted, not audited again.
insert into latchkey.webhook_deliveries (endpoint_id, event_id, event_type, payload, created_at)
select 'd4d4d4d4-0000-4000-8000-000000000004', gen_random_uuid(), 'cap.fixture', '{}',
  now() + g * interval '1 ms'
from generate_series(1, 3) g;
select results_eq(
  $$select dropped from latchkey.trim_webhook_backlogs(6, 1000)$$,
  $$values (4)$$,
  'a trim in the same minute drops again'
);
select is(
  (select count(*)::int from latchkey.audit_events where action = 'webhook.backlog_dropped'),
  2, 'but audits once a minute per endpoint'
);
select is(
  (select repeats from latchkey.audit_repeats
   where subject = 'webhook.backlog_dropped:d4d4d4d4-0000-4000-8000-000000000004'),
  4, 'the drops it did not audit are counted'
);
select is(
  (select count(*)::int from latchkey.webhook_deliveries
   where endpoint_id = 'd4d4d4d4-0000-4000-8000-000000000004'
     and delivered_at is null and failed_at is null),
  6, 'and the limit holds'
);
-- The next minute (the clock moved): the next drop is audited with the ones in between.
update latchkey.audit_repeats set window_start = window_start - interval '1 minute'
where subject = 'webhook.backlog_dropped:d4d4d4d4-0000-4000-8000-000000000004';
insert into latchkey.webhook_deliveries (endpoint_id, event_id, event_type, payload, created_at)
select 'd4d4d4d4-0000-4000-8000-000000000004', gen_random_uuid(), 'cap.fixture', '{}',
  now() + interval '1 second' + g * interval '1 ms'
from generate_series(1, 2) g;
select latchkey.trim_webhook_backlogs(6, 1000);
select is(
  (select metadata from latchkey.audit_events where action = 'webhook.backlog_dropped'
   order by created_at desc limit 1),
  '{"dropped": 3, "limit": 6, "droppedSincePreviousEvent": 4}'::jsonb,
  'a new minute audits again, with the drops since the previous event'
);
select is((select dropped from latchkey.trim_webhook_backlogs(6, 1000)), 0,
  'within the limit, nothing is dropped');
select results_eq(
  $$select dropped, more from latchkey.trim_webhook_backlogs(4, 1)$$,
  $$values (2, true)$$,
  'a trim drops at most its batch of each endpoint, and says there is more'
);

-- A writer re-delivers a dropped message: it is pending again.
set local role latchkey_caller;
select set_config('latchkey.caller',
  '{"sub": "c3c3c3c3-0000-4000-8000-000000000001", "app_role": "admin",
    "principal_kind": "api_key", "permissions": ["webhooks:write"]}', true);
select results_eq(
  $$update latchkey.webhook_deliveries set attempts = 0, next_attempt_at = now(),
      delivered_at = null, failed_at = null, dropped_at = null
    where id = 'e4000000-0000-4000-8000-000000000001' returning dropped_at is null$$,
  $$values (true)$$, 'a writer takes the dropped mark off with a re-delivery'
);
select throws_ok($$select * from latchkey.trim_webhook_backlogs(1, 1)$$, '42501', null,
  'no caller may trim backlogs');
select throws_ok($$select latchkey.prune_webhook_deliveries(30, 1000)$$, '42501', null,
  'no caller may prune deliveries');
reset role;

-- Retention: finished messages past it go, in batches; pending ones and newer ones stay.
insert into latchkey.webhook_deliveries (id, endpoint_id, event_id, event_type, payload,
  created_at, delivered_at, failed_at, dropped_at)
select format('f%s000000-0000-4000-8000-000000000000', g)::uuid,
  'd4d4d4d4-0000-4000-8000-000000000005', gen_random_uuid(), 'retention.fixture', '{}',
  now() - case when g = 5 then interval '10 days' else interval '40 days' end,
  case when g in (1, 5) then now() end, case when g in (2, 3) then now() end,
  case when g = 3 then now() end
from generate_series(1, 5) g;
select is(latchkey.prune_webhook_deliveries(30, 2), 2, 'a batch deletes at most its size');
select is(latchkey.prune_webhook_deliveries(30, 1000), 1, 'the next one what is left');
select results_eq(
  $$select id from latchkey.webhook_deliveries where event_type = 'retention.fixture'
    order by id$$,
  $$values ('f4000000-0000-4000-8000-000000000000'::uuid),
    ('f5000000-0000-4000-8000-000000000000'::uuid)$$,
  'delivered, failed and dropped past retention are deleted; pending and newer ones stay'
);
select throws_ok($$select latchkey.prune_webhook_deliveries(0, 10)$$, '22023', null,
  'a retention is at least a day');
-- Messages queued for an endpoint deleted under the queueing transaction (no foreign key holds
-- them back): never claimed, and pruned whatever their age.
insert into latchkey.webhook_deliveries (endpoint_id, event_id, event_type, payload)
select 'd4d4d4d4-0000-4000-8000-0000000000ff', gen_random_uuid(), 'orphan.fixture', '{}'
from generate_series(1, 3);
select is((select count(*)::int from latchkey.claim_webhook_deliveries('{}', 4, 50,
  interval '30 seconds') where endpoint_id = 'd4d4d4d4-0000-4000-8000-0000000000ff'), 0,
  'a message of an endpoint that is gone is never claimed');
select is(latchkey.prune_webhook_deliveries(30, 1000), 3,
  'and pruned, pending and new as it is');

-- A deleted endpoint takes its queued messages with it.
delete from latchkey.webhook_endpoints where id = 'd4d4d4d4-0000-4000-8000-000000000002';
select is((select count(*)::int from latchkey.webhook_deliveries
  where endpoint_id = 'd4d4d4d4-0000-4000-8000-000000000002'), 0,
  'deleting an endpoint deletes its messages');

select * from finish();
rollback;
