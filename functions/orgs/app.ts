import { functionApp, type FunctionDefinition } from "../_shared/api/routes.ts";
import { acceptInvitationRoute } from "./routes/accept_invitation.ts";
import { createOrgRoute } from "./routes/create_org.ts";
import { deleteOrgRoute } from "./routes/delete_org.ts";
import { getOrgRoute } from "./routes/get_org.ts";
import { inviteMemberRoute } from "./routes/invite_member.ts";
import { listInvitationsRoute, revokeInvitationRoute } from "./routes/invitations.ts";
import { listMembersRoute } from "./routes/list_members.ts";
import { listOrgsRoute } from "./routes/list_orgs.ts";
import { removeMemberRoute } from "./routes/remove_member.ts";
import { transferOwnershipRoute } from "./routes/transfer_ownership.ts";
import { updateMemberRoute } from "./routes/update_member.ts";
import { updateOrgRoute } from "./routes/update_org.ts";

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
    "leave. An organization always has an owner. Sessions only.",
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
  ],
};

export const app = functionApp(orgsFunction);
