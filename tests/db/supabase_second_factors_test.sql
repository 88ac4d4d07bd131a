-- Second factors kept by Supabase Auth (auth.mfa_factors, LATCHKEY_IDENTITY=supabase), as the
-- admin's users list and a user's page see them: only verified ones count, named
-- `supabase:<type>`; a reader of users sees anyone's, a caller their own, nobody else anything;
-- the list's filter counts them only when asked to (the Supabase identity mode), and the API
-- role never reads auth.mfa_factors itself. On the hosted-like cluster, where the table is
-- Supabase Auth's (row level security on, no policy).
begin;
select plan(17);

insert into auth.users (id, aud, role, email, created_at, updated_at) values
  ('5a000000-0000-4000-8000-000000000001', 'authenticated', 'authenticated', 'ana@sbf.test',
    now(), now()),
  ('5a000000-0000-4000-8000-000000000002', 'authenticated', 'authenticated', 'ben@sbf.test',
    now(), now()),
  ('5a000000-0000-4000-8000-000000000003', 'authenticated', 'authenticated', 'cy@sbf.test',
    now(), now());
insert into latchkey.users (id, email, name, role, created_at) values
  ('5a000000-0000-4000-8000-000000000001', 'ana@sbf.test', 'Ana', 'user', now() - interval '3 s'),
  ('5a000000-0000-4000-8000-000000000002', 'ben@sbf.test', 'Ben', 'user', now() - interval '2 s'),
  ('5a000000-0000-4000-8000-000000000003', 'cy@sbf.test', 'Cy', 'support', now() - interval '1 s');
-- Ana: a verified phone factor, then a verified TOTP one; Ben: a TOTP enrolment never verified;
-- Cy: none.
insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at,
  updated_at, secret) values
  ('5af00000-0000-4000-8000-000000000001', '5a000000-0000-4000-8000-000000000001', 'Phone',
    'phone', 'verified', now() - interval '1 day', now(), null),
  ('5af00000-0000-4000-8000-000000000002', '5a000000-0000-4000-8000-000000000001', 'App',
    'totp', 'verified', now(), now(), 'SECRET-ANA'),
  ('5af00000-0000-4000-8000-000000000003', '5a000000-0000-4000-8000-000000000002', 'App',
    'totp', 'unverified', now(), now(), 'SECRET-BEN');

select ok(
  not has_table_privilege('latchkey_caller', 'auth.mfa_factors', 'select'),
  'the API role cannot read Supabase Auth''s factors itself'
);
select is(
  (select p.prosecdef and pg_get_userbyid(p.proowner) = current_user
     and p.proconfig = array['search_path=""']
   from pg_proc p where p.oid = 'latchkey.supabase_second_factors(uuid[])'::regprocedure),
  true,
  'their reader is a security definer of the migration''s role with an empty search_path'
);
select is(
  has_function_privilege('public', 'latchkey.supabase_second_factors(uuid[])', 'execute'),
  false,
  'nobody else may call it'
);
select unalike(
  pg_get_functiondef('latchkey.supabase_second_factors(uuid[])'::regprocedure),
  '%secret%',
  'it never names a factor''s secret'
);

set local role latchkey_caller;
-- Support: a reader of users.
select set_config('latchkey.caller', '{"sub": "5a000000-0000-4000-8000-000000000003",
  "app_role": "support", "principal_kind": "session", "aal": "aal2", "mfa_required": false,
  "permissions": ["users:read", "keys:read", "keys:revoke", "sessions:revoke", "audit:read"]}',
  true);
select is(
  coalesce((select s.types from latchkey.supabase_second_factors(array['5a000000-0000-4000-8000-000000000001'::uuid]) s), '{}'),
  array['supabase:phone', 'supabase:totp'],
  'a reader of users sees the types of someone''s verified factors, oldest first'
);
select is(
  coalesce((select s.types from latchkey.supabase_second_factors(array['5a000000-0000-4000-8000-000000000002'::uuid]) s), '{}'),
  '{}'::text[],
  'an enrolment Supabase Auth never verified is no factor'
);
select throws_ok(
  $$select 1 from auth.mfa_factors$$,
  '42501', null, 'the caller reads nothing of auth.mfa_factors directly'
);
select results_eq(
  $$select latchkey.matching_user_ids('sbf.test', null, null, null, null, true, null, null, 50,
    true)$$,
  $$values ('5a000000-0000-4000-8000-000000000001'::uuid)$$,
  'the list''s filter counts Supabase Auth''s verified factors in the Supabase identity mode'
);
select results_eq(
  $$select latchkey.matching_user_ids('sbf.test', null, null, null, null, false, null, null, 50,
    true)$$,
  $$values ('5a000000-0000-4000-8000-000000000003'::uuid),
    ('5a000000-0000-4000-8000-000000000002'::uuid)$$,
  'and finds who has none, newest first'
);
select results_eq(
  $$select latchkey.matching_user_ids('sbf.test', null, null, null, null, false,
    now() - interval '1 s', '5a000000-0000-4000-8000-000000000003', 1, true)$$,
  $$values ('5a000000-0000-4000-8000-000000000002'::uuid)$$,
  'after a cursor, the next match'
);
select is_empty(
  $$select latchkey.matching_user_ids('sbf.test', null, null, null, null, true, null, null, 50,
    false)$$,
  'with Latchkey as the identity, Supabase Auth''s factors do not count'
);

-- A user: their own factors, nobody else's, and no filter on anyone's.
select set_config('latchkey.caller', '{"sub": "5a000000-0000-4000-8000-000000000002",
  "app_role": "user", "principal_kind": "session", "aal": "aal1", "mfa_required": false,
  "permissions": ["keys:read", "keys:write"]}', true);
select is(
  coalesce((select s.types from latchkey.supabase_second_factors(array['5a000000-0000-4000-8000-000000000001'::uuid]) s), '{}'),
  '{}'::text[],
  'a user learns nothing of another''s factors'
);
select is_empty(
  $$select latchkey.matching_user_ids('', null, null, null, null, true, null, null, 50, true)$$,
  'nor whom the filter would find'
);
select set_config('latchkey.caller', '{"sub": "5a000000-0000-4000-8000-000000000001",
  "app_role": "user", "principal_kind": "session", "aal": "aal1", "mfa_required": false,
  "permissions": ["keys:read", "keys:write"]}', true);
select is(
  coalesce((select s.types from latchkey.supabase_second_factors(array['5a000000-0000-4000-8000-000000000001'::uuid]) s), '{}'),
  array['supabase:phone', 'supabase:totp'],
  'a user sees their own'
);

-- Supabase Auth removes a factor: it no longer counts.
reset role;
delete from auth.mfa_factors where id = '5af00000-0000-4000-8000-000000000001';
set local role latchkey_caller;
select set_config('latchkey.caller', '{"sub": "5a000000-0000-4000-8000-000000000003",
  "app_role": "support", "principal_kind": "session", "aal": "aal2", "mfa_required": false,
  "permissions": ["users:read"]}', true);
select is(
  coalesce((select s.types from latchkey.supabase_second_factors(array['5a000000-0000-4000-8000-000000000001'::uuid]) s), '{}'),
  array['supabase:totp'],
  'a factor Supabase Auth removed is gone from the count'
);
select is_empty(
  $$select * from latchkey.supabase_second_factors(null)$$,
  'no users, no factors'
);
select results_eq(
  $$select user_id, types from latchkey.supabase_second_factors(array[
    '5a000000-0000-4000-8000-000000000001', '5a000000-0000-4000-8000-000000000002',
    '5a000000-0000-4000-8000-000000000003']::uuid[])$$,
  $$values ('5a000000-0000-4000-8000-000000000001'::uuid, array['supabase:totp'])$$,
  'one call answers for a whole page: a row for each user with a verified factor'
);

select * from finish();
rollback;
