import { functionApp, type FunctionDefinition } from "../_shared/api/routes.ts";
import { acceptInvitationRoute } from "./routes/accept_invitation.ts";
import { createOrgRoute } from "./routes/create_org.ts";
import { createOrgKeyRoute } from "./routes/create_org_key.ts";
import { deleteOrgRoute } from "./routes/delete_org.ts";
import { getOrgRoute } from "./routes/get_org.ts";
import { getOrgKeyRoute } from "./routes/get_org_key.ts";
import { inviteMemberRoute } from "./routes/invite_member.ts";
import { listInvitationsRoute, revokeInvitationRoute } from "./routes/invitations.ts";
import { listMembersRoute } from "./routes/list_members.ts";
import { listOrgKeysRoute } from "./routes/list_org_keys.ts";
import { listOrgsRoute } from "./routes/list_orgs.ts";
import { orgKeyUsageRoute } from "./routes/org_key_usage.ts";
import { removeMemberRoute } from "./routes/remove_member.ts";
import { revokeOrgKeyRoute } from "./routes/revoke_org_key.ts";
import { rotateOrgKeyRoute } from "./routes/rotate_org_key.ts";
import { transferOwnershipRoute } from "./routes/transfer_ownership.ts";
import { updateMemberRoute } from "./routes/update_member.ts";
import { updateOrgRoute } from "./routes/update_org.ts";
import { updateOrgKeyRoute } from "./routes/update_org_key.ts";

/**
 * Function `orgs` (API.md, "v1.2 additions", Organizations): a session's organizations, their
 * members and invitations. What a member may do is their organization role's permissions, and
 * PostgreSQL decides it (the policies of latchkey.organizations and latchkey.org_memberships);
 * the routes ask, and word the refusals. Literal paths before `/:id`.
 */
export const orgsFunction: FunctionDefinition = {
  name: "orgs",
  description: "Organizations: an account creates one and owns it, invites people by mail with " +
    "a role (owner, admin, member), changes roles, removes members, hands ownership on; members " +
    "leave. An organization always has an owner. Its owners and admins (keys:read, keys:write) " +
    "manage API keys the organization owns, which outlive their creator. Sessions only.",
  routes: [
    acceptInvitationRoute,
    createOrgRoute,
    listOrgsRoute,
    getOrgRoute,
    updateOrgRoute,
    deleteOrgRoute,
    listMembersRoute,
    inviteMemberRoute,
    listInvitationsRoute,
    revokeInvitationRoute,
    updateMemberRoute,
    removeMemberRoute,
    transferOwnershipRoute,
    listOrgKeysRoute,
    createOrgKeyRoute,
    getOrgKeyRoute,
    updateOrgKeyRoute,
    revokeOrgKeyRoute,
    rotateOrgKeyRoute,
    orgKeyUsageRoute,
  ],
};

export const app = functionApp(orgsFunction);
