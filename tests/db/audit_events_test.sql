-- The audit log is append-only for everyone, and readable only by support and admins.
begin;
select plan(10);

insert into latchkey.users (id, email, name, role) values
  ('44444444-4444-4444-8444-444444444444', 'uma@audit.test', 'Uma', 'user'),
  ('55555555-5555-4555-8555-555555555555', 'ada@audit.test', 'Ada', 'admin');
select latchkey.append_audit_event(
  'system', null, null, 'test.fixture', 'user', '44444444-4444-4444-8444-444444444444',
  '{"requestId": "fixture"}', '{}'
);

-- Even the owner (here a superuser, who bypasses RLS and grants) cannot rewrite history.
select throws_ok(
  $$update latchkey.audit_events set action = 'test.forged' where request_id = 'fixture'$$,
  '42501', null, 'the table owner cannot update audit events'
);
select throws_ok(
  $$delete from latchkey.audit_events where request_id = 'fixture'$$,
  '42501', null, 'the table owner cannot delete audit events'
);
select throws_ok(
  $$truncate latchkey.audit_events$$,
  '42501', null, 'the table owner cannot truncate audit events'
);

set local role latchkey_caller;
select set_config('latchkey.caller',
  '{"sub": "44444444-4444-4444-8444-444444444444", "app_role": "user", "principal_kind": "session"}',
  true);
select set_config('latchkey.request', '{"requestId": "uma-request"}', true);

select is_empty(
  $$select id from latchkey.audit_events$$,
  'a user cannot read audit events, not even about themselves'
);
select throws_ok(
  $$insert into latchkey.audit_events (actor_kind, action) values ('system', 'test.forged')$$,
  '42501', null, 'a user cannot insert audit events directly'
);
select lives_ok(
  $$select latchkey.record_audit_event('test.by_uma', 'user', null)$$,
  'a user records events through record_audit_event'
);

select set_config('latchkey.caller',
  '{"sub": "55555555-5555-4555-8555-555555555555", "app_role": "admin",
    "permissions": ["users:read", "keys:read", "keys:revoke", "sessions:revoke",
      "audit:read", "users:write", "keys:write", "roles:write"], "principal_kind": "session",
    "aal": "aal2", "mfa_required": false}',
  true);
select results_eq(
  $$select actor_kind, actor_user_id from latchkey.audit_events where request_id = 'uma-request'$$,
  $$values ('session'::text, '44444444-4444-4444-8444-444444444444'::uuid)$$,
  'record_audit_event takes the actor from the claims, not from the caller'
);
select isnt_empty(
  $$select id from latchkey.audit_events where request_id = 'fixture'$$,
  'an admin reads audit events'
);
select throws_ok(
  $$update latchkey.audit_events set action = 'test.forged'$$,
  '42501', null, 'an admin cannot update audit events'
);
select throws_ok(
  $$delete from latchkey.audit_events$$,
  '42501', null, 'an admin cannot delete audit events'
);

select * from finish();
rollback;
