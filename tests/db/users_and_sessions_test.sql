-- RLS and grants on users and sessions, proven as the API roles with a caller's claims.
begin;
select plan(31);

insert into latchkey.users (id, email, name, password_hash, role) values
  ('11111111-1111-4111-8111-111111111111', 'alice@db.test', 'Alice', '$argon2id$not-real', 'user'),
  ('22222222-2222-4222-8222-222222222222', 'bob@db.test', 'Bob', '$argon2id$not-real', 'user'),
  ('33333333-3333-4333-8333-333333333333', 'sam@db.test', 'Support Sam', null, 'support');
insert into latchkey.sessions (id, user_id, token_hash, expires_at) values
  ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', '11111111-1111-4111-8111-111111111111',
    sha256('alice-token'), now() + interval '1 day'),
  ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', '22222222-2222-4222-8222-222222222222',
    sha256('bob-token'), now() + interval '1 day');

select is(
  (select count(*)::int from latchkey.users where lower(email) = 'alice@db.test'), 1,
  'fixtures are in place'
);
select throws_ok(
  $$insert into latchkey.users (email, name) values ('ALICE@db.test', 'Alice again')$$,
  '23505', null, 'emails are unique case-insensitively'
);

-- Alice, a user, through the API role.
set local role latchkey_caller;
select set_config('latchkey.caller',
  '{"sub": "11111111-1111-4111-8111-111111111111", "app_role": "user"}',
  true);

select results_eq(
  $$select id from latchkey.users where email like '%@db.test'$$,
  $$values ('11111111-1111-4111-8111-111111111111'::uuid)$$,
  'a user reads only their own user row'
);
select is_empty(
  $$select id from latchkey.users where id = '22222222-2222-4222-8222-222222222222'$$,
  'a user cannot read another user''s row'
);
select results_eq(
  $$select id from latchkey.sessions where user_id in (
    '11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222')$$,
  $$values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'::uuid)$$,
  'a user reads only their own sessions'
);
select is_empty(
  $$select id from latchkey.sessions where id = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb'$$,
  'a user cannot read another user''s session'
);
select is_empty(
  $$update latchkey.users set role = 'admin' where id = '11111111-1111-4111-8111-111111111111'
    returning id$$,
  'a user cannot change their own role'
);
select is_empty(
  $$update latchkey.users set tier = 'enterprise' where id = '11111111-1111-4111-8111-111111111111'
    returning id$$,
  'a user cannot change their own tier'
);
select throws_ok(
  $$select password_hash from latchkey.users$$,
  '42501', null, 'password hashes are unreadable'
);
select throws_ok(
  $$select * from latchkey.users$$,
  '42501', null, 'select * is refused too, because it includes the hash'
);
select throws_ok(
  $$select token_hash from latchkey.sessions$$,
  '42501', null, 'session token hashes are unreadable'
);
select is_empty(
  $$update latchkey.sessions set revoked_at = now()
    where id = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb' returning id$$,
  'a user cannot revoke another user''s session'
);
select throws_ok(
  $$update latchkey.sessions set expires_at = now() + interval '10 years'$$,
  '42501', null, 'a user cannot extend a session'
);
select throws_ok(
  $$insert into latchkey.users (email, name, role) values ('eve@db.test', 'Eve', 'admin')$$,
  '42501', null, 'a user cannot create users'
);
select throws_ok(
  $$select * from latchkey.authenticate_session(sha256('bob-token'))$$,
  '42501', null, 'credential functions are not callable by API roles'
);
select throws_ok(
  $$select * from latchkey.begin_sign_in('bob@db.test', '203.0.113.9', 10, interval '15 minutes', 50, 100)$$,
  '42501', null, 'the sign-in lookup (which returns hashes) is not callable by API roles'
);
select throws_ok(
  $$select * from latchkey.reserve_sign_in('bob@db.test', '203.0.113.9', 10, interval '15 minutes', 50, 100, '{}')$$,
  '42501', null, 'reserving a sign-in attempt (which returns hashes) is not callable by API roles'
);
select throws_ok(
  $$select latchkey.release_sign_in(1, 'bob@db.test', '203.0.113.9', interval '15 minutes', 50, 100)$$,
  '42501', null, 'giving an attempt back to the throttles is not callable by API roles'
);
select throws_ok(
  $$select latchkey.audit_refused_sign_in('bob@db.test', null, '{}')$$,
  '42501', null, 'auditing refused sign-ins is not callable by API roles'
);
select throws_ok(
  $$select latchkey.audit_failed_sign_in('bob@db.test', null, 'wrong_password', '{}')$$,
  '42501', null, 'auditing failed sign-ins is not callable by API roles'
);
select throws_ok(
  $$select latchkey.end_unproven_holdings('22222222-2222-4222-8222-222222222222')$$,
  '42501', null, 'ending an account''s sessions and keys is not callable by API roles'
);

select throws_ok(
  $$select latchkey.send_password_reset('bob@db.test', sha256('t'), interval '30 minutes',
    's', 't', 'h', 'c', 3, '{}')$$,
  '42501', null, 'forgot-password (which writes tokens and mail) is not callable by API roles'
);
select throws_ok(
  $$select * from latchkey.reset_password(sha256('t'), 'hash', '{}')$$,
  '42501', null, 'a reset (which sets passwords) is not callable by API roles'
);
select throws_ok(
  $$select * from latchkey.verify_email(sha256('t'), 'c', 30, '{}')$$,
  '42501', null, 'email verification is not callable by API roles'
);
select throws_ok(
  $$select * from latchkey.queue_email_verification('22222222-2222-4222-8222-222222222222',
    sha256('t'), interval '1 day', 's', 't', 'h')$$,
  '42501', null, 'queueing verification mail is not callable by API roles'
);
select throws_ok(
  $$select * from latchkey.claim_mail(10)$$,
  '42501', null, 'the mail sender (which reads links) is not callable by API roles'
);
select throws_ok(
  $$select * from latchkey.mail_outbox$$,
  '42501', null, 'the outbox (which holds links until delivery) is not readable'
);

-- Sam, support: reads everyone, changes no one.
select set_config('latchkey.caller',
  '{"sub": "33333333-3333-4333-8333-333333333333", "app_role": "support",
    "permissions": ["users:read", "keys:read", "keys:revoke", "sessions:revoke", "audit:read"]}',
  true);
select is(
  (select count(*)::int from latchkey.users where email like '%@db.test'), 3,
  'support reads every user'
);
select is_empty(
  $$update latchkey.users set role = 'admin' where id = '33333333-3333-4333-8333-333333333333'
    returning id$$,
  'support cannot change roles, not even their own'
);

-- Anonymous callers have no way into the schema at all.
reset role;
set local role anon;
select throws_ok(
  $$select id from latchkey.users$$,
  '42501', null, 'anon cannot read users'
);
select throws_ok(
  $$select latchkey.current_user_id()$$,
  '42501', null, 'anon cannot even call the claim helpers'
);

select * from finish();
rollback;
