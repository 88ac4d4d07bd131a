-- The helpers a team's policies call read the request's claims as PostgREST sets them, fail
-- closed on a token without them, and are callable by the Data API's signed-in role only.
begin;
select plan(16);

-- The schema is open to the Data API's signed-in role for these three only.
select is(
  (select array_agg(p.proname::text order by p.proname) from pg_catalog.pg_proc p
   where p.pronamespace = 'latchkey'::regnamespace
     and has_function_privilege('authenticated', p.oid, 'execute')),
  array['has_permission', 'org_id', 'org_role'],
  'authenticated executes no function of ours but the three helpers'
);
select is(
  (select count(*)::int from pg_catalog.pg_class c
   where c.relnamespace = 'latchkey'::regnamespace and c.relkind in ('r', 'v', 'm', 'S', 'p')
     and (has_table_privilege('authenticated', c.oid, 'select, insert, update, delete')
       or has_table_privilege('anon', c.oid, 'select'))),
  0, 'nor any table, view or sequence'
);
select ok(
  has_function_privilege('latchkey_caller', 'latchkey.caller_has_permission(text)', 'execute'),
  'the route role keeps the functions its policies call'
);


set local role authenticated;

select set_config('request.jwt.claims', '', true);
select is(latchkey.org_id(), null, 'no claims: no organization');
select is(latchkey.has_permission('notes:read'), false, 'no claims: no permission');

select set_config('request.jwt.claims', '{"sub": "x", "role": "authenticated"}', true);
select is(latchkey.org_id(), null, 'a token without org_id (a Supabase Auth session): null');
select is(latchkey.org_role(), null, 'and no organization role');
select is(latchkey.has_permission('notes:read'), false, 'a token without permissions: false');

select set_config('request.jwt.claims', json_build_object(
  'org_id', '0b7a2f3e-4c5d-4e6f-8a9b-0c1d2e3f4a5b', 'org_role', 'admin',
  'permissions', json_build_array('notes:read', 'keys:write'))::text, true);
select is(latchkey.org_id(), '0b7a2f3e-4c5d-4e6f-8a9b-0c1d2e3f4a5b'::uuid, 'the org_id claim');
select is(latchkey.org_role(), 'admin', 'the org_role claim');
select ok(latchkey.has_permission('notes:read'), 'a permission the token carries');
select ok(not latchkey.has_permission('notes:write'), 'not one it lacks');
select ok(not latchkey.has_permission('notes'), 'nor a prefix of one');

select set_config('request.jwt.claims',
  '{"org_id": "not-a-uuid", "permissions": "notes:read"}', true);
select is(latchkey.org_id(), null, 'a malformed org_id is no organization, not an error');
select is(latchkey.has_permission('notes:read'), false, 'permissions that are not an array: false');

reset role;
set local role anon;
select throws_ok('select latchkey.has_permission(''notes:read'')', '42501', null,
  'the anonymous role cannot call them (its policies have no token to read)');
reset role;
select * from finish();
rollback;
