-- Permissions as data, permission-based policies, and the last-admin guard.
begin;
select plan(12);

select results_eq(
  $$select permission from latchkey.role_permissions where role = 'support' order by 1$$,
  $$values ('audit:read'), ('keys:read'), ('keys:revoke'), ('orgs:read'), ('roles:read'),
    ('sessions:revoke'), ('users:read')$$,
  'support has exactly the read and revoke permissions'
);
select is(
  (select count(*)::int from latchkey.role_permissions where role = 'admin'),
  (select count(*)::int from latchkey.permissions),
  'admin has every permission'
);
select is_empty(
  $$select 1 from latchkey.role_permissions where role = 'user'$$,
  'user has no admin permission'
);

insert into latchkey.users (id, email, name, role) values
  ('a1a1a1a1-0000-4000-8000-000000000001', 'root@roles.test', 'Root', 'admin'),
  ('a1a1a1a1-0000-4000-8000-000000000002', 'pat@roles.test', 'Pat', 'user'),
  ('a1a1a1a1-0000-4000-8000-000000000003', 'sam@roles.test', 'Sam', 'support');

set local role latchkey_caller;

-- Support: reads users, cannot change roles or anything else about them.
select set_config('latchkey.caller',
  '{"sub": "a1a1a1a1-0000-4000-8000-000000000003", "app_role": "support",
    "permissions": ["users:read", "keys:read", "keys:revoke", "sessions:revoke", "audit:read"]}',
  true);
select isnt_empty(
  $$select 1 from latchkey.users where id = 'a1a1a1a1-0000-4000-8000-000000000002'$$,
  'support can read users'
);
select is_empty(
  $$update latchkey.users set role = 'admin' where id = 'a1a1a1a1-0000-4000-8000-000000000002'
    returning id$$,
  'support cannot update roles'
);

-- An admin's key scoped to users:read: the role would allow writes, the scopes do not.
select set_config('latchkey.caller',
  '{"sub": "a1a1a1a1-0000-4000-8000-000000000001", "app_role": "admin",
    "principal_kind": "api_key", "permissions": ["users:read"]}', true);
select isnt_empty(
  $$select 1 from latchkey.users where id = 'a1a1a1a1-0000-4000-8000-000000000002'$$,
  'a users:read key of an admin reads users'
);
select is_empty(
  $$update latchkey.users set tier = 'pro' where id = 'a1a1a1a1-0000-4000-8000-000000000002'
    returning id$$,
  'a users:read key of an admin cannot change users, whatever the owner''s role'
);
select is_empty(
  $$select 1 from latchkey.audit_events$$,
  'a users:read key cannot read the audit log'
);

-- A full admin, without roles:write in its permissions: the trigger refuses role changes.
select set_config('latchkey.caller',
  '{"sub": "a1a1a1a1-0000-4000-8000-000000000001", "app_role": "admin",
    "permissions": ["users:read", "users:write"]}', true);
select throws_ok(
  $$update latchkey.users set role = 'support' where id = 'a1a1a1a1-0000-4000-8000-000000000002'$$,
  '42501', null, 'changing a role needs roles:write'
);
select lives_ok(
  $$update latchkey.users set tier = 'pro' where id = 'a1a1a1a1-0000-4000-8000-000000000002'$$,
  'users:write changes other fields'
);

-- The last active admin, as the schema owner: the guard holds for every writer.
reset role;
update latchkey.users set banned_at = now()
  where role = 'admin' and id <> 'a1a1a1a1-0000-4000-8000-000000000001';
select throws_ok(
  $$update latchkey.users set role = 'user' where id = 'a1a1a1a1-0000-4000-8000-000000000001'$$,
  'P0001', null, 'the last active admin cannot be demoted'
);
select throws_ok(
  $$delete from latchkey.users where id = 'a1a1a1a1-0000-4000-8000-000000000001'$$,
  'P0001', null, 'the last active admin cannot be deleted'
);

select * from finish();
rollback;
