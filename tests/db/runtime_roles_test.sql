-- Roles and permissions at runtime, proven as the API role with a caller's state: the team's
-- permissions join the catalogue (admin holds each at once); latchkey.roles, role_permissions,
-- org_roles and org_role_permissions are written only by roles:write (and orgs:write for
-- organization roles) within the writer's reach: nobody grants what they lack, to their own role
-- least of all, nor changes or deletes a role holding more than they do; admin's and owner's sets
-- are fixed; adding a permission needs a step-up; built-in rows never go, names never change,
-- and nothing held is deleted, whoever writes.
begin;
select plan(49);

insert into latchkey.permissions (name, description, built_in) values
  ('notes:read', 'Read notes', false), ('notes:write', 'Write notes', false);
insert into latchkey.roles (name, description) values ('rolemgr', 'Manages roles');
insert into latchkey.role_permissions (role, permission) values
  ('rolemgr', 'roles:write'), ('rolemgr', 'roles:read'), ('rolemgr', 'users:read'),
  ('rolemgr', 'users:write'), ('rolemgr', 'notes:read');
insert into latchkey.users (id, email, name, role) values
  ('e0000000-0000-4000-8000-000000000001', 'ada@runtime-roles.test', 'Ada', 'admin'),
  ('e0000000-0000-4000-8000-000000000002', 'rob@runtime-roles.test', 'Rob', 'rolemgr'),
  ('e0000000-0000-4000-8000-000000000003', 'sue@runtime-roles.test', 'Sue', 'support'),
  ('e0000000-0000-4000-8000-000000000004', 'pat@runtime-roles.test', 'Pat', 'user');
insert into latchkey.organizations (id, name, slug) values
  ('e1000000-0000-4000-8000-00000000000a', 'Acme', 'acme-runtime-roles');
insert into latchkey.org_memberships (org_id, user_id, role) values
  ('e1000000-0000-4000-8000-00000000000a', 'e0000000-0000-4000-8000-000000000001', 'owner'),
  ('e1000000-0000-4000-8000-00000000000a', 'e0000000-0000-4000-8000-000000000002', 'admin'),
  ('e1000000-0000-4000-8000-00000000000a', 'e0000000-0000-4000-8000-000000000004', 'member');

-- As the schema owner: what holds for every writer.
select results_eq(
  $$select name from latchkey.roles where built_in order by name$$,
  $$values ('admin'), ('support'), ('user')$$, 'user, support and admin are built-in roles'
);
select is(
  (select count(*)::int from latchkey.role_permissions where role = 'admin'),
  (select count(*)::int from latchkey.permissions),
  'admin holds every permission, the team''s new ones included'
);
select throws_ok(
  $$insert into latchkey.users (email, name, role) values ('x@runtime-roles.test', 'X', 'nope')$$,
  '23503', null, 'an account''s role is a role of the catalogue'
);
select throws_like(
  $$delete from latchkey.roles where name = 'support'$$,
  '%built-in role support cannot be deleted%', 'a built-in role is never deleted, by anyone'
);
select throws_like(
  $$update latchkey.roles set name = 'ops' where name = 'rolemgr'$$,
  '%name and origin never change%', 'nor is a role renamed'
);
select throws_like(
  $$delete from latchkey.permissions where name = 'users:read'$$,
  '%built-in permission users:read cannot be deleted%', 'a built-in permission is never deleted'
);
select throws_like(
  $$delete from latchkey.roles where name = 'rolemgr'$$,
  'The role rolemgr is held by 1 account(s)%', 'a role accounts hold is not deleted'
);
select results_eq(
  $$select latchkey.role_permission_names('rolemgr')$$,
  $$values (array['notes:read', 'roles:read', 'roles:write', 'users:read', 'users:write'])$$,
  'role_permission_names reads a role''s set'
);
select results_eq(
  $$select latchkey.token_role('admin', array['users:read', 'keys:read', 'keys:revoke',
      'sessions:revoke', 'audit:read', 'roles:read', 'orgs:read']),
    latchkey.token_role('rolemgr', latchkey.role_permission_names('rolemgr')),
    latchkey.token_role('rolemgr', array['users:read'])$$,
  $$values ('support'::text, 'rolemgr'::text, 'user'::text)$$,
  'a key''s token role: the fullest of its owner''s and the built-in roles it holds in full'
);

set local role latchkey_caller;

-- Rob: rolemgr's session, stepped up.
select set_config('latchkey.caller', pg_catalog.jsonb_build_object(
  'sub', 'e0000000-0000-4000-8000-000000000002', 'app_role', 'rolemgr',
  'principal_kind', 'session', 'aal', 'aal2', 'mfa_required', false,
  'permissions', latchkey.role_permission_names('rolemgr'),
  'second_factor_at', floor(extract(epoch from now()))::bigint, 'step_up_seconds', 600)::text,
  true);
select lives_ok(
  $$insert into latchkey.roles (name, description) values ('reader', 'Reads notes');
    insert into latchkey.role_permissions (role, permission) values ('reader', 'notes:read')$$,
  'a role writer makes a role of what it holds'
);
select throws_ok(
  $$insert into latchkey.role_permissions (role, permission) values ('reader', 'notes:write')$$,
  '42501', null, 'but grants no permission it lacks'
);
select throws_ok(
  $$insert into latchkey.role_permissions (role, permission) values ('rolemgr', 'keys:write')$$,
  '42501', null, 'not even to the role it holds itself'
);
select throws_ok(
  $$insert into latchkey.role_permissions (role, permission) values ('support', 'notes:read')$$,
  '42501', null, 'nor to a role holding a permission it lacks (support: keys:revoke, ...)'
);
select is_empty(
  $$delete from latchkey.role_permissions where role = 'support' returning 1$$,
  'nor takes anything from such a role'
);
select is_empty(
  $$update latchkey.roles set description = 'mine now' where name = 'support' returning 1$$,
  'nor describes it anew'
);
select is_empty(
  $$delete from latchkey.role_permissions where role = 'admin' and permission = 'notes:read'
    returning 1$$,
  'admin''s set is fixed'
);
select throws_ok(
  $$insert into latchkey.roles (name, built_in) values ('fake', true)$$,
  '42501', null, 'nobody makes a built-in role'
);
select throws_ok(
  $$insert into latchkey.roles (name) values ('anonymous')$$,
  '23514', null, 'nor one named as a caller with no role is'
);
select throws_ok(
  $$update latchkey.users set role = 'admin' where id = 'e0000000-0000-4000-8000-000000000004'$$,
  '42501', null, 'a role writer gives no account a role beyond its reach'
);
select lives_ok(
  $$update latchkey.users set role = 'reader' where id = 'e0000000-0000-4000-8000-000000000004'$$,
  'but gives one it reaches, custom ones too'
);
select throws_ok(
  $$insert into latchkey.permissions (name, description, built_in)
    values ('users:delete', 'Looks like ours', false)$$,
  '42501', null, 'a team''s permission never takes one of Latchkey''s resources'
);
select throws_ok(
  $$insert into latchkey.permissions (name, description) values ('invoices:read', 'Read')$$,
  '42501', null, 'nor passes itself off as built in'
);
select lives_ok(
  $$insert into latchkey.permissions (name, description, built_in)
    values ('invoices:write', 'Write invoices', false)$$,
  'a role writer adds a team''s permission'
);
select ok(
  latchkey.role_has_permission('admin', 'invoices:write')
    and not latchkey.role_has_permission('rolemgr', 'invoices:write'),
  'which admin holds at once, and its writer does not'
);
select is_empty(
  $$update latchkey.permissions set description = 'mine' where name = 'users:read' returning 1$$,
  'Latchkey''s own permissions are not described anew'
);
select throws_like(
  $$delete from latchkey.permissions where name = 'notes:read'$$,
  'The permission notes:read is held by 2 role(s) besides admin and 0 live key(s)%',
  'a permission roles hold is not deleted'
);

select is_empty(
  $$delete from latchkey.permissions where name = 'invoices:write' returning 1$$,
  'nor deletes one it does not hold (it would take it from admin)'
);
select is_empty(
  $$update latchkey.permissions set description = 'harmless' where name = 'notes:write'
    returning 1$$,
  'nor describes one anew'
);

-- Ada, admin: a live key holding a permission keeps it in the catalogue; a revoked one does not.
select set_config('latchkey.caller', pg_catalog.jsonb_build_object(
  'sub', 'e0000000-0000-4000-8000-000000000001', 'app_role', 'admin',
  'principal_kind', 'session', 'aal', 'aal2', 'mfa_required', false,
  'permissions', latchkey.role_permission_names('admin'),
  'second_factor_at', floor(extract(epoch from now()))::bigint, 'step_up_seconds', 600)::text,
  true);
reset role;
insert into latchkey.api_keys (id, user_id, name, key_prefix, key_hash, scopes) values
  ('e2000000-0000-4000-8000-000000000001', 'e0000000-0000-4000-8000-000000000001', 'inv',
    'lk_live_inv1', sha256('runtime-roles-inv'), '{invoices:write}');
set local role latchkey_caller;
select throws_like(
  $$delete from latchkey.permissions where name = 'invoices:write'$$,
  '%held by 0 role(s) besides admin and 1 live key(s)%', 'nor one a live key holds'
);
reset role;
update latchkey.api_keys set revoked_at = now() where id = 'e2000000-0000-4000-8000-000000000001';
set local role latchkey_caller;
select lives_ok(
  $$delete from latchkey.permissions where name = 'invoices:write'$$,
  'a revoked key holds it no longer'
);
select ok(
  not latchkey.role_has_permission('admin', 'invoices:write'),
  'and admin''s row went with it'
);

select set_config('latchkey.caller', pg_catalog.jsonb_build_object(
  'sub', 'e0000000-0000-4000-8000-000000000002', 'app_role', 'rolemgr',
  'principal_kind', 'session', 'aal', 'aal2', 'mfa_required', false,
  'permissions', latchkey.role_permission_names('rolemgr'),
  'second_factor_at', floor(extract(epoch from now()))::bigint, 'step_up_seconds', 600)::text,
  true);
select throws_ok(
  $$insert into latchkey.org_roles (name, description) values ('billing', 'Billing')$$,
  '42501', null, 'roles:write without orgs:write defines no organization role'
);

-- Rob's key at aal1 and a session that has not stepped up.
select set_config('latchkey.caller', pg_catalog.jsonb_build_object(
  'sub', 'e0000000-0000-4000-8000-000000000002', 'app_role', 'rolemgr',
  'principal_kind', 'session', 'aal', 'aal2', 'mfa_required', false,
  'permissions', latchkey.role_permission_names('rolemgr'),
  'second_factor_at', floor(extract(epoch from now()))::bigint - 3600,
  'step_up_seconds', 600)::text, true);
select throws_like(
  $$insert into latchkey.role_permissions (role, permission) values ('reader', 'users:read')$$,
  'Adding a permission to a role needs a second factor%',
  'adding a permission to a role needs a step-up'
);
select lives_ok(
  $$delete from latchkey.role_permissions where role = 'reader' and permission = 'notes:read'$$,
  'taking one away does not'
);
select set_config('latchkey.caller', pg_catalog.jsonb_build_object(
  'sub', 'e0000000-0000-4000-8000-000000000004', 'app_role', 'reader',
  'principal_kind', 'session', 'aal', 'aal1', 'mfa_required', false,
  'permissions', '["notes:read"]'::jsonb)::text, true);
select ok(
  not latchkey.caller_holds_scopes(array['notes:read']),
  'a permission taken from a role is not the holder''s from the next statement on'
);

-- Sue: support's session, no roles:write.
select set_config('latchkey.caller', pg_catalog.jsonb_build_object(
  'sub', 'e0000000-0000-4000-8000-000000000003', 'app_role', 'support',
  'principal_kind', 'session', 'aal', 'aal2', 'mfa_required', false,
  'permissions', latchkey.role_permission_names('support'),
  'second_factor_at', floor(extract(epoch from now()))::bigint, 'step_up_seconds', 600)::text,
  true);
select throws_ok(
  $$insert into latchkey.roles (name) values ('sneaky')$$,
  '42501', null, 'support makes no role'
);
select throws_ok(
  $$insert into latchkey.role_permissions (role, permission) values ('support', 'users:write')$$,
  '42501', null, 'nor gives its own role users:write'
);
select isnt_empty(
  $$select 1 from latchkey.roles where name = 'rolemgr'$$,
  'but reads every role, as everyone does'
);

-- Ada: admin's session, stepped up: organization roles.
select set_config('latchkey.caller', pg_catalog.jsonb_build_object(
  'sub', 'e0000000-0000-4000-8000-000000000001', 'app_role', 'admin',
  'principal_kind', 'session', 'aal', 'aal2', 'mfa_required', false,
  'permissions', latchkey.role_permission_names('admin'),
  'second_factor_at', floor(extract(epoch from now()))::bigint, 'step_up_seconds', 600)::text,
  true);
select lives_ok(
  $$insert into latchkey.org_roles (name, description) values ('deleter', 'Deletes');
    insert into latchkey.org_role_permissions (role, permission) values
      ('deleter', 'org:read'), ('deleter', 'org:delete')$$,
  'roles:write and orgs:write define an organization role'
);
select is_empty(
  $$delete from latchkey.org_role_permissions where role = 'owner' returning 1$$,
  'owner''s set is fixed'
);
select is_empty(
  $$delete from latchkey.org_roles where name = 'member' returning 1$$,
  'a built-in organization role is not deleted'
);
select lives_ok(
  $$insert into latchkey.roles (name) values ('spare'); delete from latchkey.roles where name = 'spare'$$,
  'a custom role nobody holds is deleted'
);
select set_config('latchkey.caller', pg_catalog.jsonb_build_object(
  'sub', 'e0000000-0000-4000-8000-000000000001', 'app_role', 'admin',
  'principal_kind', 'session', 'aal', 'aal2', 'mfa_required', false,
  'permissions', latchkey.role_permission_names('admin'),
  'second_factor_at', floor(extract(epoch from now()))::bigint, 'step_up_seconds', 600)::text,
  true);
select lives_ok(
  $$select latchkey.invite_to_organization('e1000000-0000-4000-8000-00000000000a',
    'invited@runtime-roles.test', 'deleter', sha256('ada-invites'), now() + interval '1 day',
    's', 't', 'h')$$,
  'Acme''s owner invites to a custom organization role within her reach'
);

-- Rob is Acme's admin (members:write): he gives a custom role he reaches, not one beyond him.
select set_config('latchkey.caller', pg_catalog.jsonb_build_object(
  'sub', 'e0000000-0000-4000-8000-000000000002', 'app_role', 'rolemgr',
  'principal_kind', 'session', 'aal', 'aal2', 'mfa_required', false,
  'permissions', latchkey.role_permission_names('rolemgr'),
  'second_factor_at', floor(extract(epoch from now()))::bigint, 'step_up_seconds', 600)::text,
  true);
select throws_ok(
  $$update latchkey.org_memberships set role = 'deleter'
    where org_id = 'e1000000-0000-4000-8000-00000000000a'
      and user_id = 'e0000000-0000-4000-8000-000000000004'$$,
  '42501', null, 'an org admin gives no custom role holding org:delete, which admin lacks'
);
select is(
  latchkey.caller_reaches_org_role('e1000000-0000-4000-8000-00000000000a', 'deleter'), false,
  'the reach rule compares the custom role''s set'
);
select throws_ok(
  $$select latchkey.invite_to_organization('e1000000-0000-4000-8000-00000000000a',
    'newcomer@runtime-roles.test', 'deleter', sha256('rob-invites'), now() + interval '1 day',
    's', 't', 'h')$$,
  '42501', null, 'nor invites anyone to it'
);

reset role;
update latchkey.org_memberships set role = 'deleter'
  where user_id = 'e0000000-0000-4000-8000-000000000004';
select throws_like(
  $$delete from latchkey.org_roles where name = 'deleter'$$,
  'The organization role deleter is held by 1 member(s) and 1 open invitation(s)%',
  'an organization role a member holds is not deleted'
);
select throws_like(
  $$update latchkey.permissions set built_in = false where name = 'users:read'$$,
  '%name and origin never change%', 'nor does a built-in permission become the team''s'
);
select results_eq(
  $$select latchkey.role_permission_names('support') @> array['roles:read'],
    not latchkey.role_has_permission('user', 'roles:read')$$,
  $$values (true, true)$$, 'support reads roles; user does not'
);

select * from finish();
rollback;
