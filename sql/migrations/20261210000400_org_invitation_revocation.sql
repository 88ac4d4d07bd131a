-- Organizations (issue 29, item 1): an organization's inviters list its invitations and revoke
-- an open one. Revoking is setting revoked_at, the one column callers may write, on a row their
-- policy shows them (members:invite in that organization) while the organization is active and
-- the invitation still open; the token then matches nothing (accept_org_invitation takes only
-- open invitations).

grant update (revoked_at) on latchkey.org_invitations to latchkey_caller;
drop policy if exists "Inviters revoke their organization's open invitations"
  on latchkey.org_invitations;
create policy "Inviters revoke their organization's open invitations"
  on latchkey.org_invitations for update to latchkey_caller
  using (
    latchkey.caller_has_org_permission(org_id, 'members:invite')
    and not latchkey.org_is_suspended(org_id)
    and accepted_at is null and revoked_at is null
  )
  with check (
    latchkey.caller_has_org_permission(org_id, 'members:invite')
    and revoked_at is not null and accepted_at is null
  );
