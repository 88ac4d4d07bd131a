-- Organizations, proven as the API role with a caller's state: a member reads their own
-- organization and its members only, and changes nothing a member may not; an org admin changes
-- roles within their reach and never gives one above their own; owners alone delete; an
-- organization always keeps an owner; a suspended organization refuses its members' writes;
-- invitations are read without their token's hash, written only by their functions, and accepted
-- once, by the invited and verified address; API keys and sessions owing a second factor reach no
-- organization; the platform's staff read (orgs:read) and suspend (orgs:write).
begin;
select plan(88);

insert into latchkey.users (id, email, name, role, email_verified_at) values
  ('d0000000-0000-4000-8000-000000000001', 'alice@orgs.test', 'Alice', 'user', now()),
  ('d0000000-0000-4000-8000-000000000002', 'bob@orgs.test', 'Bob', 'user', now()),
  ('d0000000-0000-4000-8000-000000000003', 'carol@orgs.test', 'Carol', 'user', now()),
  ('d0000000-0000-4000-8000-000000000004', 'dave@orgs.test', 'Dave', 'user', now()),
  ('d0000000-0000-4000-8000-000000000005', 'erin@orgs.test', 'Erin', 'user', now()),
  ('d0000000-0000-4000-8000-000000000006', 'frank@orgs.test', 'Frank', 'user', now()),
  ('d0000000-0000-4000-8000-000000000007', 'grace@orgs.test', 'Grace', 'user', null),
  ('d0000000-0000-4000-8000-000000000008', 'sue@orgs.test', 'Sue', 'support', now()),
  ('d0000000-0000-4000-8000-000000000009', 'ada@orgs.test', 'Ada', 'admin', now());
insert into latchkey.organizations (id, name, slug) values
  ('d1000000-0000-4000-8000-00000000000a', 'Acme', 'acme-orgs-test'),
  ('d1000000-0000-4000-8000-00000000000b', 'Beta', 'beta-orgs-test');
insert into latchkey.org_memberships (org_id, user_id, role) values
  ('d1000000-0000-4000-8000-00000000000a', 'd0000000-0000-4000-8000-000000000001', 'owner'),
  ('d1000000-0000-4000-8000-00000000000a', 'd0000000-0000-4000-8000-000000000002', 'admin'),
  ('d1000000-0000-4000-8000-00000000000a', 'd0000000-0000-4000-8000-000000000003', 'member'),
  ('d1000000-0000-4000-8000-00000000000b', 'd0000000-0000-4000-8000-000000000005', 'owner');
insert into latchkey.org_invitations (id, org_id, email, role, token_hash, invited_by,
  expires_at) values
  ('d2000000-0000-4000-8000-000000000006', 'd1000000-0000-4000-8000-00000000000a',
    'Frank@orgs.test', 'member', sha256('frank-token'), 'd0000000-0000-4000-8000-000000000002',
    now() + interval '1 day'),
  ('d2000000-0000-4000-8000-000000000007', 'd1000000-0000-4000-8000-00000000000a',
    'grace@orgs.test', 'member', sha256('grace-token'), 'd0000000-0000-4000-8000-000000000002',
    now() + interval '1 day'),
  ('d2000000-0000-4000-8000-000000000008', 'd1000000-0000-4000-8000-00000000000a',
    'dave@orgs.test', 'member', sha256('stale-token'), 'd0000000-0000-4000-8000-000000000002',
    now() - interval '1 second'),
  ('d2000000-0000-4000-8000-000000000009', 'd1000000-0000-4000-8000-00000000000a',
    'hank@orgs.test', 'member', sha256('hank-token'), 'd0000000-0000-4000-8000-000000000002',
    now() + interval '1 day');

-- Every organization and invitation of the fixtures, for comparing what the policies show a
-- caller with what the membership functions say they may see.
create temporary table fixture_orgs as
  select id from latchkey.organizations where slug like '%-orgs-test';
create temporary table fixture_invitations as select id, org_id from latchkey.org_invitations;
grant select on fixture_orgs, fixture_invitations to latchkey_caller;

select throws_ok(
  $$delete from latchkey.org_memberships
    where org_id = 'd1000000-0000-4000-8000-00000000000a'
      and user_id = 'd0000000-0000-4000-8000-000000000001'$$,
  'P0001', null, 'even Latchkey''s own functions cannot take an organization''s last owner'
);
select throws_ok(
  $$delete from latchkey.users where id = 'd0000000-0000-4000-8000-000000000005'$$,
  'P0001', null, 'nor delete the account that is its last owner'
);

set local role latchkey_caller;

-- Carol, a member of Acme.
select set_config('latchkey.caller', '{"sub": "d0000000-0000-4000-8000-000000000003",
  "app_role": "user", "principal_kind": "session", "aal": "aal1", "mfa_required": false,
  "permissions": []}', true);
select results_eq(
  $$with r as (update latchkey.org_invitations set revoked_at = now()
    where id = 'd2000000-0000-4000-8000-000000000009' returning 1) select count(*)::int from r$$,
  $$values (0)$$, 'a member revokes no invitation'
);
select results_eq(
  $$select id from latchkey.organizations where slug like '%-orgs-test'$$,
  $$values ('d1000000-0000-4000-8000-00000000000a'::uuid)$$,
  'a member reads their own organization, not another'
);
select results_eq(
  $$select count(*)::int from latchkey.org_memberships m
    join latchkey.organizations o on o.id = m.org_id where o.slug like '%-orgs-test'$$,
  $$values (3)$$, 'and its three members, not another organization''s'
);
select results_eq(
  $$select latchkey.caller_org_role('d1000000-0000-4000-8000-00000000000a'),
    latchkey.caller_org_role('d1000000-0000-4000-8000-00000000000b')$$,
  $$values ('member'::text, null::text)$$, 'caller_org_role reads the membership'
);
-- The read policies, reshaped for scale, say what caller_reads_org and caller_has_org_permission
-- said (a member).
select results_eq($$select latchkey.caller_member_id()$$,
  $$values ('d0000000-0000-4000-8000-000000000003'::uuid)$$,
  'caller_member_id: whom the caller is a member as (a member)');
select set_eq($$select org_id, role from latchkey.caller_memberships$$,
  $$select id, latchkey.caller_org_role(id) from fixture_orgs
    where latchkey.caller_org_role(id) is not null$$,
  'caller_memberships is caller_org_role, org by org (a member)');
select set_eq($$select id from latchkey.organizations where id in (select id from fixture_orgs)$$,
  $$select id from fixture_orgs where latchkey.caller_reads_org(id)$$,
  'the organizations read are those caller_reads_org allows (a member)');
select set_eq(
  $$select distinct org_id from latchkey.org_memberships
    where org_id in (select id from fixture_orgs)$$,
  $$select id from fixture_orgs where latchkey.caller_reads_org(id)$$,
  'so are the organizations whose members are read (a member)');
select set_eq($$select id from latchkey.org_invitations$$,
  $$select id from fixture_invitations
    where latchkey.caller_has_org_permission(org_id, 'members:invite')
      or latchkey.caller_has_permission('orgs:read')$$,
  'the invitations read: as members:invite or orgs:read allow (a member)');
select throws_ok($$update latchkey.caller_memberships set role = 'owner'$$, '42501', null,
  'the view of the caller''s memberships is read only');
select results_eq(
  $$select name from latchkey.org_member_profiles('d1000000-0000-4000-8000-00000000000a',
    array['d0000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000004',
      'd0000000-0000-4000-8000-000000000005']::uuid[]) order by name$$,
  $$values ('Alice'::text)$$,
  'a member reads the names of their organization''s members, not of others they ask about'
);
select is_empty(
  $$select name from latchkey.org_member_profiles('d1000000-0000-4000-8000-00000000000b',
    array['d0000000-0000-4000-8000-000000000005']::uuid[])$$,
  'nor those of another organization''s members'
);
select is_empty(
  $$select id from latchkey.org_invitations where org_id = 'd1000000-0000-4000-8000-00000000000a'$$,
  'a member without members:invite reads no invitation'
);
select results_eq(
  $$with changed as (update latchkey.organizations set name = 'Carol''s now'
    where id = 'd1000000-0000-4000-8000-00000000000a' returning 1) select count(*)::int from changed$$,
  $$values (0)$$, 'a member cannot rename the organization'
);
select results_eq(
  $$with changed as (update latchkey.org_memberships set role = 'admin'
    where user_id = 'd0000000-0000-4000-8000-000000000003' returning 1)
    select count(*)::int from changed$$,
  $$values (0)$$, 'a member cannot raise their own role'
);
select results_eq(
  $$with gone as (delete from latchkey.org_memberships
    where org_id = 'd1000000-0000-4000-8000-00000000000a'
      and user_id = 'd0000000-0000-4000-8000-000000000002' returning 1)
    select count(*)::int from gone$$,
  $$values (0)$$, 'nor remove another member'
);
select results_eq(
  $$with gone as (delete from latchkey.organizations
    where id = 'd1000000-0000-4000-8000-00000000000a' returning 1) select count(*)::int from gone$$,
  $$values (0)$$, 'nor delete the organization'
);
select throws_ok(
  $$insert into latchkey.org_memberships (org_id, user_id, role) values
    ('d1000000-0000-4000-8000-00000000000b', 'd0000000-0000-4000-8000-000000000003', 'owner')$$,
  '42501', null, 'nobody adds a membership, to another organization least of all'
);
select throws_ok(
  $$insert into latchkey.organizations (name, slug) values ('Planted', 'planted')$$,
  '42501', null, 'nor an organization, but through create_organization'
);
select throws_ok(
  $$insert into latchkey.org_role_permissions (role, permission) values ('member', 'org:delete')$$,
  '42501', null, 'nor gives a role a permission'
);
select results_eq(
  $$select count(*)::int from latchkey.org_role_permissions where role = 'owner'$$,
  $$values (7)$$, 'what each organization role may do is readable'
);
select results_eq(
  $$select (select count(*)::int from latchkey.org_roles where built_in),
    (select count(*)::int from latchkey.org_permissions)$$,
  $$values (3, 7)$$, 'and which roles and organization permissions there are'
);
select throws_ok($$insert into latchkey.org_roles (name, description) values ('boss', 'b')$$,
  '42501', null, 'nobody makes an organization role through the API role (item 3 will)');
select throws_ok($$update latchkey.org_permissions set description = 'anything'$$,
  '42501', null, 'nor rewrites what a permission means');
select throws_ok(
  $$select latchkey.invite_to_organization('d1000000-0000-4000-8000-00000000000a',
    'x@orgs.test', 'member', sha256('x'), now() + interval '1 day', 's', 't', 'h')$$,
  '42501', null, 'a member without members:invite cannot invite'
);

-- Bob, an admin of Acme.
select set_config('latchkey.caller', '{"sub": "d0000000-0000-4000-8000-000000000002",
  "app_role": "user", "principal_kind": "session", "aal": "aal1", "mfa_required": false,
  "permissions": []}', true);
select results_eq(
  $$with r as (update latchkey.org_invitations set revoked_at = now()
    where id = 'd2000000-0000-4000-8000-000000000009' returning 1) select count(*)::int from r$$,
  $$values (1)$$, 'an org admin revokes an open invitation'
);
select results_eq(
  $$with r as (update latchkey.org_invitations set revoked_at = now()
    where id = 'd2000000-0000-4000-8000-000000000009' returning 1) select count(*)::int from r$$,
  $$values (0)$$, 'once'
);
-- The read policies, reshaped for scale, say what caller_reads_org and caller_has_org_permission
-- said (an org admin).
select results_eq($$select latchkey.caller_member_id()$$,
  $$values ('d0000000-0000-4000-8000-000000000002'::uuid)$$,
  'caller_member_id: whom the caller is a member as (an org admin)');
select set_eq($$select org_id, role from latchkey.caller_memberships$$,
  $$select id, latchkey.caller_org_role(id) from fixture_orgs
    where latchkey.caller_org_role(id) is not null$$,
  'caller_memberships is caller_org_role, org by org (an org admin)');
select set_eq($$select id from latchkey.organizations where id in (select id from fixture_orgs)$$,
  $$select id from fixture_orgs where latchkey.caller_reads_org(id)$$,
  'the organizations read are those caller_reads_org allows (an org admin)');
select set_eq(
  $$select distinct org_id from latchkey.org_memberships
    where org_id in (select id from fixture_orgs)$$,
  $$select id from fixture_orgs where latchkey.caller_reads_org(id)$$,
  'so are the organizations whose members are read (an org admin)');
select set_eq($$select id from latchkey.org_invitations$$,
  $$select id from fixture_invitations
    where latchkey.caller_has_org_permission(org_id, 'members:invite')
      or latchkey.caller_has_permission('orgs:read')$$,
  'the invitations read: as members:invite or orgs:read allow (an org admin)');
select throws_ok($$update latchkey.org_invitations set email = 'mallory@orgs.test'$$, '42501', null,
  'and changes nothing else of an invitation');
select throws_ok($$select token_hash from latchkey.org_invitations$$, '42501', null,
  'nobody reads an invitation''s token hash');
select results_eq(
  $$select count(*)::int from latchkey.org_invitations
    where org_id = 'd1000000-0000-4000-8000-00000000000a'$$,
  $$values (4)$$, 'an org admin reads the organization''s invitations, revoked ones too'
);
select results_eq(
  $$with changed as (update latchkey.organizations set name = 'Acme Inc'
    where id = 'd1000000-0000-4000-8000-00000000000a' returning 1) select count(*)::int from changed$$,
  $$values (1)$$, 'an org admin renames the organization'
);
select throws_ok(
  $$update latchkey.organizations set suspended_at = now()
    where id = 'd1000000-0000-4000-8000-00000000000a'$$,
  '42501', null, 'but cannot suspend it'
);
select throws_ok(
  $$update latchkey.org_memberships set role = 'owner'
    where org_id = 'd1000000-0000-4000-8000-00000000000a'
      and user_id = 'd0000000-0000-4000-8000-000000000003'$$,
  '42501', null, 'an org admin cannot give a role above their own (owner)'
);
select throws_ok(
  $$update latchkey.org_memberships set role = 'owner'
    where org_id = 'd1000000-0000-4000-8000-00000000000a'
      and user_id = 'd0000000-0000-4000-8000-000000000002'$$,
  '42501', null, 'nor take it themselves'
);
select results_eq(
  $$with changed as (update latchkey.org_memberships set role = 'member'
    where org_id = 'd1000000-0000-4000-8000-00000000000a'
      and user_id = 'd0000000-0000-4000-8000-000000000001' returning 1)
    select count(*)::int from changed$$,
  $$values (0)$$, 'nor demote an owner, who is beyond their reach'
);
select results_eq(
  $$with changed as (update latchkey.org_memberships set role = 'admin'
    where org_id = 'd1000000-0000-4000-8000-00000000000a'
      and user_id = 'd0000000-0000-4000-8000-000000000003' returning 1)
    select count(*)::int from changed$$,
  $$values (1)$$, 'an org admin makes a member admin'
);
select results_eq(
  $$with changed as (update latchkey.org_memberships set role = 'admin'
    where org_id = 'd1000000-0000-4000-8000-00000000000b' returning 1)
    select count(*)::int from changed$$,
  $$values (0)$$, 'but changes nothing in another organization'
);
select results_eq(
  $$with gone as (delete from latchkey.organizations
    where id = 'd1000000-0000-4000-8000-00000000000a' returning 1) select count(*)::int from gone$$,
  $$values (0)$$, 'an org admin cannot delete the organization (org:delete is the owner''s)'
);
select throws_ok(
  $$select latchkey.invite_to_organization('d1000000-0000-4000-8000-00000000000a',
    'x@orgs.test', 'owner', sha256('x'), now() + interval '1 day', 's', 't', 'h')$$,
  '42501', null, 'an org admin cannot invite to a role above their own'
);
select throws_ok(
  $$select latchkey.invite_to_organization('d1000000-0000-4000-8000-00000000000b',
    'x@orgs.test', 'member', sha256('x'), now() + interval '1 day', 's', 't', 'h')$$,
  '42501', null, 'nor into another organization'
);
select throws_ok(
  $$select latchkey.invite_to_organization('d1000000-0000-4000-8000-00000000000a',
    'CAROL@orgs.test', 'member', sha256('x'), now() + interval '1 day', 's', 't', 'h')$$,
  'P0001', null, 'nor invite a member again'
);

-- Alice, Acme's only owner.
select set_config('latchkey.caller', '{"sub": "d0000000-0000-4000-8000-000000000001",
  "app_role": "user", "principal_kind": "session", "aal": "aal1", "mfa_required": false,
  "permissions": []}', true);
select throws_ok(
  $$update latchkey.org_memberships set role = 'admin'
    where org_id = 'd1000000-0000-4000-8000-00000000000a'
      and user_id = 'd0000000-0000-4000-8000-000000000001'$$,
  'P0001', null, 'the last owner cannot step down'
);
select throws_ok(
  $$delete from latchkey.org_memberships where org_id = 'd1000000-0000-4000-8000-00000000000a'
      and user_id = 'd0000000-0000-4000-8000-000000000001'$$,
  'P0001', null, 'nor leave'
);
select lives_ok(
  $$update latchkey.org_memberships set role = 'owner'
    where org_id = 'd1000000-0000-4000-8000-00000000000a'
      and user_id = 'd0000000-0000-4000-8000-000000000002'$$,
  'an owner makes another member owner'
);
select lives_ok(
  $$update latchkey.org_memberships set role = 'admin'
    where org_id = 'd1000000-0000-4000-8000-00000000000a'
      and user_id = 'd0000000-0000-4000-8000-000000000001'$$,
  'and then steps down: ownership moved'
);

-- Alice's API key, and a session owing its role's second factor, reach no organization.
select set_config('latchkey.caller', '{"sub": "d0000000-0000-4000-8000-000000000001",
  "app_role": "user", "principal_kind": "api_key", "permissions": []}', true);
select is_empty($$select id from latchkey.organizations where slug like '%-orgs-test'$$,
  'an API key reaches no organization (organization keys are item 2)');
-- The read policies, reshaped for scale, say what caller_reads_org and caller_has_org_permission
-- said (an API key).
select results_eq($$select latchkey.caller_member_id()$$,
  $$values (null::uuid)$$,
  'caller_member_id: whom the caller is a member as (an API key)');
select set_eq($$select org_id, role from latchkey.caller_memberships$$,
  $$select id, latchkey.caller_org_role(id) from fixture_orgs
    where latchkey.caller_org_role(id) is not null$$,
  'caller_memberships is caller_org_role, org by org (an API key)');
select set_eq($$select id from latchkey.organizations where id in (select id from fixture_orgs)$$,
  $$select id from fixture_orgs where latchkey.caller_reads_org(id)$$,
  'the organizations read are those caller_reads_org allows (an API key)');
select set_eq(
  $$select distinct org_id from latchkey.org_memberships
    where org_id in (select id from fixture_orgs)$$,
  $$select id from fixture_orgs where latchkey.caller_reads_org(id)$$,
  'so are the organizations whose members are read (an API key)');
select set_eq($$select id from latchkey.org_invitations$$,
  $$select id from fixture_invitations
    where latchkey.caller_has_org_permission(org_id, 'members:invite')
      or latchkey.caller_has_permission('orgs:read')$$,
  'the invitations read: as members:invite or orgs:read allow (an API key)');
select is_empty(
  $$select name from latchkey.org_member_profiles('d1000000-0000-4000-8000-00000000000a',
    array['d0000000-0000-4000-8000-000000000001']::uuid[])$$,
  'nor any member''s name'
);
select throws_ok($$select latchkey.create_organization('By a key', 'by-a-key')$$, '42501', null,
  'nor creates one');
select set_config('latchkey.caller', '{"sub": "d0000000-0000-4000-8000-000000000001",
  "app_role": "user", "principal_kind": "session", "aal": "aal1", "mfa_required": true,
  "permissions": []}', true);
select is_empty($$select id from latchkey.organizations where slug like '%-orgs-test'$$,
  'a session owing its second factor reaches no organization');
-- The read policies, reshaped for scale, say what caller_reads_org and caller_has_org_permission
-- said (a session owing a second factor).
select results_eq($$select latchkey.caller_member_id()$$,
  $$values (null::uuid)$$,
  'caller_member_id: whom the caller is a member as (a session owing a second factor)');
select set_eq($$select org_id, role from latchkey.caller_memberships$$,
  $$select id, latchkey.caller_org_role(id) from fixture_orgs
    where latchkey.caller_org_role(id) is not null$$,
  'caller_memberships is caller_org_role, org by org (a session owing a second factor)');
select set_eq($$select id from latchkey.organizations where id in (select id from fixture_orgs)$$,
  $$select id from fixture_orgs where latchkey.caller_reads_org(id)$$,
  'the organizations read are those caller_reads_org allows (a session owing a second factor)');
select set_eq(
  $$select distinct org_id from latchkey.org_memberships
    where org_id in (select id from fixture_orgs)$$,
  $$select id from fixture_orgs where latchkey.caller_reads_org(id)$$,
  'so are the organizations whose members are read (a session owing a second factor)');
select set_eq($$select id from latchkey.org_invitations$$,
  $$select id from fixture_invitations
    where latchkey.caller_has_org_permission(org_id, 'members:invite')
      or latchkey.caller_has_permission('orgs:read')$$,
  'the invitations read: as members:invite or orgs:read allow (a session owing a second factor)');

-- Invitations: accepted by the invited, verified address only, once.
select set_config('latchkey.caller', '{"sub": "d0000000-0000-4000-8000-000000000004",
  "app_role": "user", "principal_kind": "session", "aal": "aal1", "mfa_required": false,
  "permissions": []}', true);
select results_eq($$select outcome from latchkey.accept_org_invitation(sha256('frank-token'))$$,
  $$values ('other_address'::text)$$, 'a stolen token is refused to another address');
select results_eq($$select outcome from latchkey.accept_org_invitation(sha256('stale-token'))$$,
  $$values ('invalid_token'::text)$$, 'an expired invitation is refused, to its own address too');
select set_config('latchkey.caller', '{"sub": "d0000000-0000-4000-8000-000000000007",
  "app_role": "user", "principal_kind": "session", "aal": "aal1", "mfa_required": false,
  "permissions": []}', true);
select results_eq($$select outcome from latchkey.accept_org_invitation(sha256('grace-token'))$$,
  $$values ('email_not_verified'::text)$$, 'an unverified address cannot accept');
select set_config('latchkey.caller', '{"sub": "d0000000-0000-4000-8000-000000000006",
  "app_role": "user", "principal_kind": "session", "aal": "aal1", "mfa_required": false,
  "permissions": []}', true);
select results_eq(
  $$select outcome, role from latchkey.accept_org_invitation(sha256('frank-token'))$$,
  $$values ('accepted'::text, 'member'::text)$$,
  'the invited address accepts, still open after the thief''s try, in any letter case'
);
select results_eq($$select latchkey.caller_org_role('d1000000-0000-4000-8000-00000000000a')$$,
  $$values ('member'::text)$$, 'and is a member with the invited role');
select results_eq($$select outcome from latchkey.accept_org_invitation(sha256('frank-token'))$$,
  $$values ('invalid_token'::text)$$, 'an invitation is spent by its first acceptance');
select results_eq(
  $$with gone as (delete from latchkey.org_memberships
    where org_id = 'd1000000-0000-4000-8000-00000000000a'
      and user_id = 'd0000000-0000-4000-8000-000000000006' returning 1)
    select count(*)::int from gone$$,
  $$values (1)$$, 'a member leaves'
);

-- The platform's staff.
select set_config('latchkey.caller', '{"sub": "d0000000-0000-4000-8000-000000000008",
  "app_role": "support", "principal_kind": "session", "aal": "aal2", "mfa_required": true,
  "permissions": ["users:read", "keys:read", "keys:revoke", "sessions:revoke", "audit:read",
    "orgs:read"]}', true);
select results_eq(
  $$select count(*)::int from latchkey.organizations where slug like '%-orgs-test'$$,
  $$values (2)$$, 'support (orgs:read) reads every organization'
);
-- The read policies, reshaped for scale, say what caller_reads_org and caller_has_org_permission
-- said (support, a member of none).
select results_eq($$select latchkey.caller_member_id()$$,
  $$values ('d0000000-0000-4000-8000-000000000008'::uuid)$$,
  'caller_member_id: whom the caller is a member as (support, a member of none)');
select set_eq($$select org_id, role from latchkey.caller_memberships$$,
  $$select id, latchkey.caller_org_role(id) from fixture_orgs
    where latchkey.caller_org_role(id) is not null$$,
  'caller_memberships is caller_org_role, org by org (support, a member of none)');
select set_eq($$select id from latchkey.organizations where id in (select id from fixture_orgs)$$,
  $$select id from fixture_orgs where latchkey.caller_reads_org(id)$$,
  'the organizations read are those caller_reads_org allows (support, a member of none)');
select set_eq(
  $$select distinct org_id from latchkey.org_memberships
    where org_id in (select id from fixture_orgs)$$,
  $$select id from fixture_orgs where latchkey.caller_reads_org(id)$$,
  'so are the organizations whose members are read (support, a member of none)');
select set_eq($$select id from latchkey.org_invitations$$,
  $$select id from fixture_invitations
    where latchkey.caller_has_org_permission(org_id, 'members:invite')
      or latchkey.caller_has_permission('orgs:read')$$,
  'the invitations read: as members:invite or orgs:read allow (support, a member of none)');
select results_eq(
  $$with changed as (update latchkey.organizations set suspended_at = now()
    where slug like '%-orgs-test' returning 1) select count(*)::int from changed$$,
  $$values (0)$$, 'but suspends none'
);
select set_config('latchkey.caller', '{"sub": "d0000000-0000-4000-8000-000000000009",
  "app_role": "admin", "principal_kind": "session", "aal": "aal2", "mfa_required": true,
  "permissions": ["orgs:read", "orgs:write"]}', true);
select results_eq(
  $$with changed as (update latchkey.organizations set suspended_at = now(),
    suspension_reason = 'abuse' where id = 'd1000000-0000-4000-8000-00000000000a' returning 1)
    select count(*)::int from changed$$,
  $$values (1)$$, 'an admin (orgs:write) suspends an organization'
);

-- Suspended: the members' writes are refused.
select set_config('latchkey.caller', '{"sub": "d0000000-0000-4000-8000-000000000002",
  "app_role": "user", "principal_kind": "session", "aal": "aal1", "mfa_required": false,
  "permissions": []}', true);
select results_eq(
  $$with changed as (update latchkey.organizations set name = 'Still here', suspended_at = null
    where id = 'd1000000-0000-4000-8000-00000000000a' returning 1) select count(*)::int from changed$$,
  $$values (0)$$, 'an owner of a suspended organization neither renames nor unsuspends it'
);
select results_eq(
  $$with changed as (update latchkey.org_memberships set role = 'member'
    where org_id = 'd1000000-0000-4000-8000-00000000000a'
      and user_id = 'd0000000-0000-4000-8000-000000000003' returning 1)
    select count(*)::int from changed$$,
  $$values (0)$$, 'nor changes a role'
);
select throws_ok(
  $$select latchkey.invite_to_organization('d1000000-0000-4000-8000-00000000000a',
    'y@orgs.test', 'member', sha256('y'), now() + interval '1 day', 's', 't', 'h')$$,
  'P0001', null, 'nor invites'
);
select results_eq(
  $$with gone as (delete from latchkey.organizations
    where id = 'd1000000-0000-4000-8000-00000000000a' returning 1) select count(*)::int from gone$$,
  $$values (0)$$, 'nor deletes it'
);

-- Erin, Beta's owner: an active organization goes whole, its last owner's membership with it.
select set_config('latchkey.caller', '{"sub": "d0000000-0000-4000-8000-000000000005",
  "app_role": "user", "principal_kind": "session", "aal": "aal1", "mfa_required": false,
  "permissions": []}', true);
select results_eq(
  $$with gone as (delete from latchkey.organizations
    where id = 'd1000000-0000-4000-8000-00000000000b' returning 1) select count(*)::int from gone$$,
  $$values (1)$$, 'an owner deletes their organization'
);
select lives_ok($$select latchkey.create_organization('Gamma', 'gamma-orgs-test')$$,
  'a session creates an organization');
select results_eq(
  $$select o.slug, latchkey.caller_org_role(o.id) from latchkey.organizations o
    where o.slug like '%-orgs-test'$$,
  $$values ('gamma-orgs-test'::text, 'owner'::text)$$, 'and is its owner'
);

select * from finish();
rollback;
