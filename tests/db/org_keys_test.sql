-- Organizations' API keys, proven as the API role with a caller's state: an organization's key
-- readers and writers (keys:read, keys:write: its owners and admins) read and change its keys and
-- no other organization's; a plain member, an outsider and an API key reach none; keys are made
-- only within the organization's ceiling and only while it is active, revoked even while it is
-- suspended; the lifecycle functions refuse whoever has no say over an organization's key (a
-- null user compared is no say); the ceiling is the staff's to set, within their own power; the
-- check answers ORG_SUSPENDED for a suspended organization's key; a key outlives its creator;
-- what a key holds is its scopes within its owner's role or its organization's ceiling, which
-- holds the team's permissions only, never Latchkey's own.
begin;
select plan(42);

insert into latchkey.users (id, email, name, role, email_verified_at) values
  ('e0000000-0000-4000-8000-000000000001', 'alice@orgkeys.test', 'Alice', 'user', now()),
  ('e0000000-0000-4000-8000-000000000002', 'bob@orgkeys.test', 'Bob', 'user', now()),
  ('e0000000-0000-4000-8000-000000000003', 'carol@orgkeys.test', 'Carol', 'user', now()),
  ('e0000000-0000-4000-8000-000000000004', 'erin@orgkeys.test', 'Erin', 'user', now());
insert into latchkey.permissions (name, description, built_in)
values ('reports:export', 'Export reports', false);
insert into latchkey.organizations (id, name, slug) values
  ('e1000000-0000-4000-8000-00000000000a', 'Acme', 'acme-orgkeys-test'),
  ('e1000000-0000-4000-8000-00000000000b', 'Beta', 'beta-orgkeys-test');
insert into latchkey.org_memberships (org_id, user_id, role) values
  ('e1000000-0000-4000-8000-00000000000a', 'e0000000-0000-4000-8000-000000000001', 'owner'),
  ('e1000000-0000-4000-8000-00000000000a', 'e0000000-0000-4000-8000-000000000002', 'admin'),
  ('e1000000-0000-4000-8000-00000000000a', 'e0000000-0000-4000-8000-000000000003', 'member'),
  ('e1000000-0000-4000-8000-00000000000b', 'e0000000-0000-4000-8000-000000000004', 'owner');
insert into latchkey.api_keys (id, user_id, org_id, name, key_prefix, key_hash, created_by)
values
  ('e2000000-0000-4000-8000-00000000000a', null, 'e1000000-0000-4000-8000-00000000000a',
    'acme key', 'lk_acmeacmea', sha256('acme-key'), 'e0000000-0000-4000-8000-000000000001'),
  ('e2000000-0000-4000-8000-00000000000b', null, 'e1000000-0000-4000-8000-00000000000b',
    'beta key', 'lk_betabetab', sha256('beta-key'), 'e0000000-0000-4000-8000-000000000004'),
  ('e2000000-0000-4000-8000-000000000003', 'e0000000-0000-4000-8000-000000000003', null,
    'carol key', 'lk_carolcaro', sha256('carol-key'), 'e0000000-0000-4000-8000-000000000003');
insert into latchkey.api_key_meters (key_id, hour, valid) values
  ('e2000000-0000-4000-8000-00000000000a', date_trunc('hour', now()), 3);

select throws_ok(
  $$insert into latchkey.api_keys (user_id, org_id, name, key_prefix, key_hash) values
    ('e0000000-0000-4000-8000-000000000001', 'e1000000-0000-4000-8000-00000000000a', 'both',
      'lk_bothboth', sha256('both'))$$,
  '23514', null, 'a key has one owner, never a user and an organization both'
);
select throws_ok(
  $$insert into latchkey.api_keys (name, key_prefix, key_hash) values
    ('nobody''s', 'lk_nobodynob', sha256('nobody'))$$,
  '23514', null, 'nor none'
);

set local role latchkey_caller;

-- Carol, a plain member of Acme (no keys:read): she sees her own key, none of Acme's.
select set_config('latchkey.caller', '{"sub": "e0000000-0000-4000-8000-000000000003",
  "app_role": "user", "principal_kind": "session", "aal": "aal1", "mfa_required": false,
  "permissions": []}', true);
select results_eq(
  $$select id from latchkey.api_keys where name like '% key'$$,
  $$values ('e2000000-0000-4000-8000-000000000003'::uuid)$$,
  'a member without keys:read sees no organization''s key, only her own'
);
select is_empty(
  $$select key_id from latchkey.api_key_meters$$,
  'nor their counts'
);
select throws_ok(
  $$insert into latchkey.api_keys (org_id, name, key_prefix, key_hash) values
    ('e1000000-0000-4000-8000-00000000000a', 'mine', 'lk_carolmine', sha256('carol-org'))$$,
  '42501', null, 'nor makes one'
);
select is_empty(
  $$update latchkey.api_keys set revoked_at = now()
    where id = 'e2000000-0000-4000-8000-00000000000a' returning id$$,
  'nor revokes one'
);
select is(
  latchkey.update_api_key('e2000000-0000-4000-8000-00000000000a', '{"name": "carol''s now"}'),
  'forbidden', 'nor renames one through the lifecycle function'
);
select is(
  (latchkey.rotate_api_key('e2000000-0000-4000-8000-00000000000a', 'lk_carolrota',
    sha256('carol-rotated'), interval '0')).outcome,
  'forbidden', 'nor rotates one'
);

-- Erin, Beta's owner, a stranger to Acme: her organization's key writer role is no say over
-- another's (a user compared with an organization's key's null user is not its owner).
select set_config('latchkey.caller', '{"sub": "e0000000-0000-4000-8000-000000000004",
  "app_role": "user", "principal_kind": "session", "aal": "aal1", "mfa_required": false,
  "permissions": []}', true);
select results_eq(
  $$select id from latchkey.api_keys where org_id is not null$$,
  $$values ('e2000000-0000-4000-8000-00000000000b'::uuid)$$,
  'an owner reads her organization''s keys, not another''s'
);
select is(
  latchkey.update_api_key('e2000000-0000-4000-8000-00000000000a', '{"enabled": false}'),
  'forbidden', 'and disables none of them'
);
select throws_ok(
  $$insert into latchkey.api_keys (org_id, name, key_prefix, key_hash) values
    ('e1000000-0000-4000-8000-00000000000a', 'planted', 'lk_plantedxx', sha256('planted'))$$,
  '42501', null, 'nor plants a key in it'
);

-- Bob, Acme's admin (keys:read, keys:write).
select set_config('latchkey.caller', '{"sub": "e0000000-0000-4000-8000-000000000002",
  "app_role": "user", "principal_kind": "session", "aal": "aal1", "mfa_required": false,
  "permissions": []}', true);
select results_eq(
  $$select id from latchkey.api_keys where org_id is not null$$,
  $$values ('e2000000-0000-4000-8000-00000000000a'::uuid)$$,
  'an org admin reads his organization''s keys, not another''s'
);
select results_eq(
  $$select valid from latchkey.api_key_meters$$, $$values (3)$$, 'and their counts'
);
select lives_ok(
  $$insert into latchkey.api_keys (org_id, name, key_prefix, key_hash, scopes) values
    ('e1000000-0000-4000-8000-00000000000a', 'ci', 'lk_acmecici0', sha256('acme-ci'),
      '{compile}')$$,
  'makes one for it'
);
select results_eq(
  $$select user_id, created_by from latchkey.api_keys where key_prefix = 'lk_acmecici0'$$,
  $$values (null::uuid, 'e0000000-0000-4000-8000-000000000002'::uuid)$$,
  'owned by no user, made by him (created_by is not his to choose)'
);
-- Stepped up a moment ago, so the refusal is the policy's, not the step-up's.
select set_config('latchkey.caller', format('{"sub": "e0000000-0000-4000-8000-000000000002",
  "app_role": "user", "principal_kind": "session", "aal": "aal2", "mfa_required": false,
  "second_factor_at": %s, "step_up_seconds": 600, "permissions": []}',
  floor(extract(epoch from now()))::bigint), true);
select throws_ok(
  $$insert into latchkey.api_keys (org_id, name, key_prefix, key_hash, scopes) values
    ('e1000000-0000-4000-8000-00000000000a', 'admin', 'lk_acmeadmin', sha256('acme-admin'),
      '{users:read}')$$,
  '42501', null, 'but none holding a permission beyond the ceiling (and his own)'
);
select throws_ok(
  $$insert into latchkey.api_keys (org_id, name, key_prefix, key_hash, remaining) values
    ('e1000000-0000-4000-8000-00000000000a', 'credits', 'lk_acmecred0', sha256('acme-cred'),
      1000)$$,
  '42501', null, 'nor one with credits (an admin''s to give)'
);
select throws_ok(
  $$insert into latchkey.api_keys (org_id, name, key_prefix, key_hash) values
    ('e1000000-0000-4000-8000-00000000000b', 'beta', 'lk_betabobbo', sha256('beta-bob'))$$,
  '42501', null, 'nor one for another organization'
);
select is(
  latchkey.update_api_key('e2000000-0000-4000-8000-00000000000a', '{"name": "acme main"}'),
  'updated', 'renames his organization''s key'
);
select is(
  latchkey.update_api_key('e2000000-0000-4000-8000-00000000000a', '{"rateLimitPerMinute": 9}'),
  'forbidden', 'but sets no limit (a key writer''s of the platform)'
);
select throws_ok(
  $$select latchkey.set_org_key_permissions('e1000000-0000-4000-8000-00000000000a',
    '{compile,deploy}')$$,
  '42501', null, 'nor the ceiling (the platform staff''s, orgs:write)'
);

-- An organization's key is its own idempotency owner: keys without a user share none.
select set_config('latchkey.caller', '{"app_role": "user", "principal_kind": "api_key",
  "credential_id": "e2000000-0000-4000-8000-00000000000a", "permissions": []}', true);
select is(
  latchkey.current_idempotency_owner(), 'api_key:e2000000-0000-4000-8000-00000000000a',
  'an organization''s key keeps its own idempotency records'
);

-- Bob's own API key reaches no organization: organizations are sessions' business.
select set_config('latchkey.caller', '{"sub": "e0000000-0000-4000-8000-000000000002",
  "app_role": "user", "principal_kind": "api_key",
  "credential_id": "e2000000-0000-4000-8000-000000000003", "permissions": []}', true);
select is_empty(
  $$select id from latchkey.api_keys where org_id is not null$$,
  'a member''s API key sees none of the organization''s keys'
);

-- An admin with orgs:write but not the team's reports:export sets the ceiling within his power
-- only, and never of Latchkey's own permissions, even one he holds.
select set_config('latchkey.caller', '{"sub": "e0000000-0000-4000-8000-000000000004",
  "app_role": "admin", "principal_kind": "session", "aal": "aal2", "mfa_required": true,
  "permissions": ["orgs:read", "orgs:write"]}', true);
select throws_ok(
  $$select latchkey.set_org_key_permissions('e1000000-0000-4000-8000-00000000000a',
    '{deploy,reports:export}')$$,
  '42501', 'nobody lets an organization''s keys hold a permission they lack',
  'staff let an organization''s keys hold nothing they lack themselves'
);
select throws_ok(
  $$select latchkey.set_org_key_permissions('e1000000-0000-4000-8000-00000000000a',
    '{deploy,orgs:read}')$$,
  '42501', 'an organization''s keys never hold Latchkey''s own permissions',
  'nor one of Latchkey''s own, a staff power'
);
select ok(
  latchkey.set_org_key_permissions('e1000000-0000-4000-8000-00000000000a', '{deploy}'),
  'and set the ceiling within their power'
);

-- Erin again, owner of Beta, now as staff who holds users:read and has just stepped up: even a
-- ceiling that names it (written past set_org_key_permissions) lets no key of Beta's hold it.
reset role;
update latchkey.organizations set key_permissions = '{compile,users:read}'
where id = 'e1000000-0000-4000-8000-00000000000b';
set local role latchkey_caller;
select set_config('latchkey.caller', format('{"sub": "e0000000-0000-4000-8000-000000000004",
  "app_role": "admin", "principal_kind": "session", "aal": "aal2", "mfa_required": false,
  "second_factor_at": %s, "step_up_seconds": 600, "permissions": ["users:read"]}',
  floor(extract(epoch from now()))::bigint), true);
select throws_ok(
  $$insert into latchkey.api_keys (org_id, name, key_prefix, key_hash, scopes) values
    ('e1000000-0000-4000-8000-00000000000b', 'staff', 'lk_betastaff', sha256('beta-staff'),
      '{users:read}')$$,
  '42501', null, 'an organization''s key never holds one of Latchkey''s own permissions'
);

-- Bob again: the ceiling binds new keys at once; suspension stops his changes, not revocation.
select set_config('latchkey.caller', '{"sub": "e0000000-0000-4000-8000-000000000002",
  "app_role": "user", "principal_kind": "session", "aal": "aal1", "mfa_required": false,
  "permissions": []}', true);
select throws_ok(
  $$insert into latchkey.api_keys (org_id, name, key_prefix, key_hash, scopes) values
    ('e1000000-0000-4000-8000-00000000000a', 'old', 'lk_acmeold00', sha256('acme-old'),
      '{compile}')$$,
  '42501', null, 'a scope the narrowed ceiling dropped is refused'
);
select lives_ok(
  $$insert into latchkey.api_keys (org_id, name, key_prefix, key_hash, scopes) values
    ('e1000000-0000-4000-8000-00000000000a', 'deploy', 'lk_acmedepl0', sha256('acme-deploy'),
      '{deploy}')$$,
  'one it holds is made'
);
reset role;
update latchkey.organizations set suspended_at = now()
where id = 'e1000000-0000-4000-8000-00000000000a';
set local role latchkey_caller;
select throws_ok(
  $$insert into latchkey.api_keys (org_id, name, key_prefix, key_hash, scopes) values
    ('e1000000-0000-4000-8000-00000000000a', 'late', 'lk_acmelate0', sha256('acme-late'),
      '{deploy}')$$,
  '42501', null, 'a suspended organization gets no new key'
);
select is(
  latchkey.update_api_key('e2000000-0000-4000-8000-00000000000a', '{"enabled": true}'),
  'forbidden', 'nor a change to one'
);
select is(
  (latchkey.rotate_api_key('e2000000-0000-4000-8000-00000000000a', 'lk_acmerota0',
    sha256('acme-rotated'), interval '0')).outcome,
  'forbidden', 'nor a rotation'
);
select results_eq(
  $$with revoked as (update latchkey.api_keys set revoked_at = now()
    where key_prefix = 'lk_acmedepl0' returning 1) select count(*)::int from revoked$$,
  $$values (1)$$, 'but its keys can still be revoked'
);

-- The key check, as Latchkey's own functions run it, and what outlives whom.
select throws_ok(
  $$select * from latchkey.check_api_keys('[]')$$,
  '42501', null, 'the batched key check is not the API role''s'
);
reset role;
select results_eq(
  $$select code, org_id, user_id from latchkey.check_api_key(sha256('acme-key'), '{}')$$,
  $$values ('ORG_SUSPENDED'::text, 'e1000000-0000-4000-8000-00000000000a'::uuid, null::uuid)$$,
  'a suspended organization''s key answers ORG_SUSPENDED, naming the organization'
);
update latchkey.organizations set suspended_at = null
where id = 'e1000000-0000-4000-8000-00000000000a';
select results_eq(
  $$select code, scopes, org_key_permissions
    from latchkey.check_api_key(sha256('acme-key'), '{}')$$,
  $$values ('VALID'::text, '{compile}'::text[], '{deploy}'::text[])$$,
  'unsuspended, it is valid again, with the ceiling its scopes count within'
);
select set_config('latchkey.caller', '', true);

-- What a key holds, as the key check reads it: a user's key within its owner's role; an
-- organization's within its ceiling's team permissions (by default role user's), never
-- Latchkey's own, whatever its list says.
select is(
  latchkey.key_permission_names('{compile,users:read,keys:read,reports:export}', 'support',
    null, null),
  '{keys:read,users:read}'::text[], 'a user''s key: its scopes within its owner''s role'
);
select is(
  latchkey.key_permission_names('{compile,reports:export,users:read}', null,
    'e1000000-0000-4000-8000-00000000000a', '{compile,reports:export,users:read}'),
  '{reports:export}'::text[], 'an organization''s key: within its list, none of Latchkey''s own'
);
select is(
  latchkey.key_permission_names('{reports:export}', null,
    'e1000000-0000-4000-8000-00000000000a', null),
  '{}'::text[], 'by default what role user holds: not the team''s permission'
);
insert into latchkey.role_permissions (role, permission) values ('user', 'reports:export');
select is(
  latchkey.org_key_ceiling(null), '{reports:export}'::text[],
  'until role user holds it: the default ceiling follows the role at once'
);
delete from latchkey.org_memberships
where org_id = 'e1000000-0000-4000-8000-00000000000a'
  and user_id = 'e0000000-0000-4000-8000-000000000002';
delete from latchkey.users where id = 'e0000000-0000-4000-8000-000000000002';
select results_eq(
  $$select created_by, revoked_at is null from latchkey.api_keys
    where key_prefix = 'lk_acmecici0'$$,
  $$values (null::uuid, true)$$,
  'a key outlives its creator''s membership and account (created_by goes to null)'
);
select results_eq(
  $$select code from latchkey.check_api_key(sha256('acme-ci'), '{}')$$,
  $$values ('VALID'::text)$$, 'and still works'
);

select * from finish();
rollback;
