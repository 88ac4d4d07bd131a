-- Assurance on sessions: the columns' rules, a challenge that no ordinary credential check
-- finds, and the two functions that change a session's level, each for its own caller only.
begin;
select plan(15);

insert into latchkey.users (id, email, name, password_hash, role) values
  ('11111111-1111-4111-8111-111111111111', 'alice@aal.test', 'Alice', '$argon2id$x', 'user');
insert into latchkey.sessions (id, user_id, token_hash, expires_at, purpose) values
  ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', '11111111-1111-4111-8111-111111111111',
    sha256('alice-session'), now() + interval '1 hour', 'session'),
  ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', '11111111-1111-4111-8111-111111111111',
    sha256('alice-challenge'), now() + interval '5 minutes', 'mfa_challenge');
insert into latchkey.mfa_recovery_codes (code_hash, user_id) values
  (sha256('alice-code'), '11111111-1111-4111-8111-111111111111'),
  (sha256('alice-code-2'), '11111111-1111-4111-8111-111111111111');

select throws_ok(
  $$update latchkey.sessions set aal = 'aal3'$$, '23514', null, 'aal is aal1 or aal2'
);
select throws_ok(
  $$update latchkey.sessions set purpose = 'other'$$, '23514', null,
  'purpose is session or mfa_challenge'
);
select is(
  (select amr -> 0 ->> 'method' from latchkey.sessions
   where id = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'),
  'password', 'a session is aal1 by a password unless told otherwise'
);
select is(
  (select count(*)::int from latchkey.authenticate_session(sha256('alice-challenge'))),
  0, 'a challenge is not a session to the ordinary check'
);
select is(
  (select purpose from latchkey.authenticate_session(sha256('alice-challenge'), true)),
  'mfa_challenge', 'the factor routes'' check finds it'
);

set local role latchkey_caller;
select set_config('latchkey.caller', '{"sub": "11111111-1111-4111-8111-111111111111",
  "app_role": "user", "principal_kind": "session",
  "credential_id": "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"}', true);
select throws_ok(
  $$update latchkey.sessions set aal = 'aal2'$$, '42501', null,
  'a caller cannot raise a session directly'
);
select throws_ok(
  $$select * from latchkey.complete_sign_in_challenge(sha256('x'), now(), 'totp')$$,
  '42501', null, 'a session cannot complete a challenge'
);
select is(
  (select aal from latchkey.raise_session_assurance('totp')), 'aal2',
  'a session raises its own level'
);

select set_config('latchkey.caller', '{"sub": "11111111-1111-4111-8111-111111111111",
  "app_role": "user", "principal_kind": "mfa_challenge",
  "credential_id": "cccccccc-cccc-4ccc-8ccc-cccccccccccc"}', true);
select throws_ok(
  $$select * from latchkey.raise_session_assurance('totp')$$,
  '42501', null, 'a challenge is not raised, only completed'
);
select is(
  (select count(*)::int from latchkey.complete_sign_in_challenge(sha256('alice-early'),
    now() + interval '1 day', 'totp')),
  0, 'a challenge no code has claimed does not complete'
);
select is(
  latchkey.use_recovery_code(sha256('alice-code')), 'spent',
  'a code spent on a challenge claims it'
);
select is(
  latchkey.use_recovery_code(sha256('alice-code-2')), 'challenge_gone',
  'a claimed challenge spends no second code (completions racing spend one)'
);
select is(
  (select amr from latchkey.complete_sign_in_challenge(sha256('alice-new'), now() + interval '1 day',
    'recovery_code')) -> 1 ->> 'method',
  'recovery_code', 'a challenge completes into a session with the factor in its amr'
);
select is(
  (select count(*)::int from latchkey.complete_sign_in_challenge(sha256('alice-again'),
    now() + interval '1 day', 'recovery_code')),
  0, 'a challenge completes once'
);

reset role;
select is(
  (select used_at is null from latchkey.mfa_recovery_codes where code_hash = sha256('alice-code-2')),
  true, 'the second code is unspent'
);

select * from finish();
rollback;
