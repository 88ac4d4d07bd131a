-- Idempotency records are per caller: RLS keeps one caller's keys (and the responses stored
-- under them) from every other caller, and API roles may change only the stored response.
begin;
select plan(6);

insert into latchkey.idempotency_records (owner, idempotency_key, request_hash) values
  ('11111111-1111-4111-8111-111111111111', 'mine', sha256('a')),
  ('22222222-2222-4222-8222-222222222222', 'theirs', sha256('b'));

set local role latchkey_caller;
select set_config('latchkey.caller',
  '{"sub": "11111111-1111-4111-8111-111111111111", "app_role": "user"}', true);

select results_eq(
  $$select idempotency_key from latchkey.idempotency_records
    where owner in ('11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222')$$,
  $$values ('mine')$$,
  'a caller sees only its own idempotency records'
);
select throws_ok(
  $$insert into latchkey.idempotency_records (owner, idempotency_key, request_hash)
    values ('22222222-2222-4222-8222-222222222222', 'planted', sha256('c'))$$,
  '42501', null, 'a caller cannot plant a record under another caller'
);
select is_empty(
  $$update latchkey.idempotency_records set status = 200
    where owner = '22222222-2222-4222-8222-222222222222' returning 1$$,
  'a caller cannot overwrite another caller''s stored response'
);
select throws_ok(
  $$update latchkey.idempotency_records set request_hash = sha256('x')
    where idempotency_key = 'mine'$$,
  '42501', null, 'the request fingerprint cannot be rewritten'
);
select is_empty(
  $$delete from latchkey.idempotency_records
    where owner = '22222222-2222-4222-8222-222222222222' returning 1$$,
  'a caller cannot delete another caller''s record'
);
reset role;
set local role anon;
select throws_ok(
  $$select * from latchkey.idempotency_records$$,
  '42501', null, 'anon cannot read idempotency records'
);

select * from finish();
rollback;
