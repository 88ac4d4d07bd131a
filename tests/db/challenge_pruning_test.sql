-- Pruning expired challenges: latchkey.prune_expired_challenges deletes expired sign-in
-- challenges and passkey challenges in batches of its size, one kind and one batch at a time,
-- and nothing else; its owner, latchkey_challenge_pruner, could not delete anything else even if
-- the function asked; nobody but the functions' own role may call it.
begin;
select plan(15);

insert into latchkey.users (id, email, name, password_hash) values
  ('9a000000-0000-4000-8000-000000000001', 'pruned@prune.test', 'Pruned', '$argon2id$x');
-- Expired challenges (four), a live one, a revoked live one, an expired session, a live one.
insert into latchkey.sessions (id, user_id, token_hash, expires_at, purpose, revoked_at)
select ('9b000000-0000-4000-8000-00000000000' || g)::uuid, '9a000000-0000-4000-8000-000000000001',
  sha256(convert_to('prune' || g, 'UTF8')),
  case when g <= 4 then now() - g * interval '1 hour' when g = 7 then now() - interval '30 days'
    else now() + interval '5 minutes' end,
  case when g >= 7 then 'session' else 'mfa_challenge' end,
  case when g = 6 then now() end
from generate_series(1, 8) g;
-- Passkey challenges: three expired and one live on the live session; one live on an expired
-- challenge (it goes with its challenge).
insert into latchkey.webauthn_challenges (challenge_hash, user_id, session_id, ceremony,
  expires_at)
select sha256(convert_to('passkey' || g, 'UTF8')), '9a000000-0000-4000-8000-000000000001',
  case when g = 5 then '9b000000-0000-4000-8000-000000000001'::uuid
    else '9b000000-0000-4000-8000-000000000008'::uuid end,
  'authentication',
  case when g <= 3 then now() - g * interval '1 minute' else now() + interval '5 minutes' end
from generate_series(1, 5) g;
-- No other expired row is in line (removed here; everything is rolled back at the end).
delete from latchkey.sessions
where purpose = 'mfa_challenge' and expires_at < now() and user_id <> '9a000000-0000-4000-8000-000000000001';
delete from latchkey.webauthn_challenges
where expires_at < now() and user_id <> '9a000000-0000-4000-8000-000000000001';

select is(
  (select pg_get_userbyid(p.proowner) || ' ' || p.prosecdef::text
   from pg_proc p where p.oid = 'latchkey.prune_expired_challenges(integer)'::regprocedure),
  'latchkey_challenge_pruner true',
  'the pruning function is a security definer of the pruner''s'
);
select ok(
  not has_function_privilege('latchkey_caller', 'latchkey.prune_expired_challenges(integer)',
    'execute')
  and not has_function_privilege('public', 'latchkey.prune_expired_challenges(integer)',
    'execute'),
  'no API role may call it'
);
select ok(
  not has_schema_privilege('latchkey_challenge_pruner', 'latchkey', 'create'),
  'the pruner creates nothing in the schema'
);

-- As the pruner itself: what it may see and delete.
set local role latchkey_challenge_pruner;
select results_eq(
  $$select id from latchkey.sessions order by expires_at$$,
  $$values ('9b000000-0000-4000-8000-000000000004'::uuid), ('9b000000-0000-4000-8000-000000000003'),
    ('9b000000-0000-4000-8000-000000000002'), ('9b000000-0000-4000-8000-000000000001')$$,
  'the pruner sees expired sign-in challenges only: no session, no live challenge'
);
select throws_ok(
  $$select token_hash from latchkey.sessions$$,
  '42501', null, 'nor any token hash'
);
select is_empty(
  $$delete from latchkey.sessions where purpose = 'session' returning id$$,
  'it cannot delete a session, expired or not'
);
select is_empty(
  $$delete from latchkey.sessions where id = '9b000000-0000-4000-8000-000000000005' returning id$$,
  'nor a live challenge'
);
select is_empty(
  $$delete from latchkey.webauthn_challenges where expires_at > now() returning challenge_hash$$,
  'nor a live passkey challenge'
);
select throws_ok(
  $$update latchkey.sessions set expires_at = now() - interval '1 day'$$,
  '42501', null, 'and it cannot age anything to make it prunable'
);
reset role;

select is(latchkey.prune_expired_challenges(2), 4,
  'a batch deletes at most its size of each kind: two challenges, two passkey challenges');
select is(
  (select count(*)::int from latchkey.sessions
   where user_id = '9a000000-0000-4000-8000-000000000001' and purpose = 'mfa_challenge'
     and expires_at < now()),
  2,
  'the oldest expired challenges went first'
);
select is(latchkey.prune_expired_challenges(2), 3,
  'the next batch: the last two challenges, the last expired passkey challenge');
select is(latchkey.prune_expired_challenges(2), 0, 'then nothing is left to prune');
select results_eq(
  $$select id from latchkey.sessions where user_id = '9a000000-0000-4000-8000-000000000001'
    order by id$$,
  $$values ('9b000000-0000-4000-8000-000000000005'::uuid), ('9b000000-0000-4000-8000-000000000006'),
    ('9b000000-0000-4000-8000-000000000007'), ('9b000000-0000-4000-8000-000000000008')$$,
  'live challenges (revoked or not), an expired session and a live one stay'
);
select results_eq(
  $$select challenge_hash from latchkey.webauthn_challenges
    where user_id = '9a000000-0000-4000-8000-000000000001'$$,
  $$values (sha256(convert_to('passkey4', 'UTF8')))$$,
  'the live passkey challenge stays; the one of a pruned challenge went with it'
);

select * from finish();
rollback;
