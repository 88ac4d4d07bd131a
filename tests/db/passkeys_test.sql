-- Passkeys and WebAuthn challenges, proven as the API role with a caller's claims: the key
-- material and counter stay out of reach (read only through passkeys_to_check, by the owner);
-- a challenge is taken once, by the session it was issued to; a counter that does not increase
-- is refused; one credential is one account's.
begin;
select plan(19);

insert into latchkey.users (id, email, name, password_hash, role) values
  ('11111111-1111-4111-8111-111111111111', 'alice@passkeys.test', 'Alice', '$argon2id$x', 'user'),
  ('22222222-2222-4222-8222-222222222222', 'bob@passkeys.test', 'Bob', '$argon2id$x', 'user');
insert into latchkey.sessions (id, user_id, token_hash, expires_at) values
  ('a5a5a5a5-a5a5-4a5a-8a5a-a5a5a5a5a5a5', '11111111-1111-4111-8111-111111111111',
    sha256('alice-session'), now() + interval '1 hour'),
  ('a6a6a6a6-a6a6-4a6a-8a6a-a6a6a6a6a6a6', '11111111-1111-4111-8111-111111111111',
    sha256('alice-other-session'), now() + interval '1 hour');
insert into latchkey.mfa_factors (id, user_id, type, name, confirmed_at, credential_id,
  public_key, sign_count) values
  ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', '11111111-1111-4111-8111-111111111111', 'passkey',
    'Alice''s key', now(), sha256('alice-credential'), decode(repeat('a1', 77), 'hex'), 5),
  ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', '22222222-2222-4222-8222-222222222222', 'passkey',
    'Bob''s key', now(), sha256('bob-credential'), decode(repeat('b2', 77), 'hex'), 0);

select throws_ok(
  $$insert into latchkey.mfa_factors (id, user_id, type, name) values
    (gen_random_uuid(), '11111111-1111-4111-8111-111111111111', 'passkey', 'no key')$$,
  '23514', null, 'a passkey needs its credential id, public key and counter'
);
select throws_ok(
  $$insert into latchkey.mfa_factors (id, user_id, type, name, confirmed_at, credential_id,
    public_key, sign_count) values (gen_random_uuid(), '11111111-1111-4111-8111-111111111111',
    'passkey', 'copy', now(), sha256('bob-credential'), decode(repeat('a1', 77), 'hex'), 0)$$,
  '23505', null, 'one credential is one account''s'
);

set local role latchkey_caller;
select set_config('latchkey.caller', '{"sub": "11111111-1111-4111-8111-111111111111",
  "app_role": "user", "principal_kind": "session",
  "credential_id": "a5a5a5a5-a5a5-4a5a-8a5a-a5a5a5a5a5a5"}', true);

select results_eq(
  $$select id, type from latchkey.mfa_factors$$,
  $$values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'::uuid, 'passkey')$$,
  'a user reads only their own passkeys'
);
select throws_ok($$select public_key from latchkey.mfa_factors$$, '42501', null,
  'nobody reads a passkey''s public key through the API role');
select throws_ok($$select credential_id from latchkey.mfa_factors$$, '42501', null,
  'nor its credential id');
select throws_ok($$update latchkey.mfa_factors set sign_count = 0$$, '42501', null,
  'nor resets its counter');
select results_eq(
  $$select id from latchkey.passkeys_to_check(null)$$,
  $$values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'::uuid)$$,
  'passkeys_to_check hands out the caller''s own passkeys only'
);
select is_empty(
  $$select id from latchkey.passkeys_to_check('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb')$$,
  'and not another user''s by its id'
);
select throws_ok($$select * from latchkey.webauthn_challenges$$, '42501', null,
  'a caller cannot read latchkey.webauthn_challenges');
select throws_ok(
  $$insert into latchkey.webauthn_challenges (challenge_hash, user_id, session_id, ceremony,
    expires_at) values (sha256('made-up'), '11111111-1111-4111-8111-111111111111',
    'a5a5a5a5-a5a5-4a5a-8a5a-a5a5a5a5a5a5', 'authentication', now() + interval '1 hour')$$,
  '42501', null, 'a caller cannot write latchkey.webauthn_challenges');

select lives_ok(
  $$select latchkey.issue_webauthn_challenge(sha256('c1'), 'authentication', null,
    now() + interval '5 minutes')$$,
  'a session issues itself a challenge'
);
select results_eq(
  $$select spent from latchkey.spend_webauthn_challenge(sha256('c1'), 'registration')$$,
  $$values (false)$$, 'a challenge of one ceremony does not answer another'
);
select set_config('latchkey.caller', '{"sub": "11111111-1111-4111-8111-111111111111",
  "app_role": "user", "principal_kind": "session",
  "credential_id": "a6a6a6a6-a6a6-4a6a-8a6a-a6a6a6a6a6a6"}', true);
select results_eq(
  $$select spent from latchkey.spend_webauthn_challenge(sha256('c1'), 'authentication')$$,
  $$values (false)$$, 'another session of the same account cannot take it'
);
select set_config('latchkey.caller', '{"sub": "11111111-1111-4111-8111-111111111111",
  "app_role": "user", "principal_kind": "session",
  "credential_id": "a5a5a5a5-a5a5-4a5a-8a5a-a5a5a5a5a5a5"}', true);
select results_eq(
  $$select spent from latchkey.spend_webauthn_challenge(sha256('c1'), 'authentication')$$,
  $$values (true)$$, 'the session it was issued to takes it'
);
select results_eq(
  $$select spent from latchkey.spend_webauthn_challenge(sha256('c1'), 'authentication')$$,
  $$values (false)$$, 'once'
);

select is(latchkey.accept_passkey_assertion('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 5, false),
  'counter_not_increased', 'a counter that does not increase is refused (a clone)');
select is(latchkey.accept_passkey_assertion('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 0, false),
  'counter_not_increased', 'so is a counter of zero once one was reported');
select is(latchkey.accept_passkey_assertion('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 6, false),
  'verified', 'a higher one is taken');
select is(latchkey.accept_passkey_assertion('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 1, false),
  'not_found', 'another user''s passkey is not the caller''s to use');

select * from finish();
rollback;
