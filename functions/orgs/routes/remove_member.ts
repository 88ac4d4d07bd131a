import { ApiError } from "../../_shared/ground/errors.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import {
  beyondOrgReach,
  memberIdParam,
  noSuchMemberText,
  orgIdParam,
  readMember,
  readOrg,
  requireActive,
  requireOrgPermission,
} from "../../_shared/orgs/organizations.ts";

export const removeMemberRoute = defineRoute({
  method: "delete",
  path: "/:id/members/:userId",
  notifies: true,
  summary: "Remove a member (members:write, within the remover's reach), or leave (your own id)",
  auth: ["session"],
  permissionNote: "members:write in the organization and a role holding every permission of " +
    "the member's; none to leave",
  responses: {
    200: "`{success: true}`.",
    403: "The caller's organization role lacks members:write, or the member's role is above " +
      "it; `org_suspended`.",
    404: `${noSuchMemberText} (Or no such organization of yours.)`,
    409: "`last_owner`: the organization's only owner cannot leave or be removed.",
  },
}, async (c) => {
  const [orgId, userId] = [orgIdParam(c), memberIdParam(c)];
  const leaving = userId === c.get("principal").userId;
  await asCaller(c, async (tx) => {
    const org = await readOrg(tx, orgId);
    const member = await readMember(tx, orgId, userId);
    if (!member) throw new ApiError("not_found", { message: noSuchMemberText });
    if (leaving) requireActive(org);
    else requireOrgPermission(org, "members:write", "Removing a member");
    const removed = await tx`
      delete from latchkey.org_memberships where org_id = ${orgId} and user_id = ${userId}
      returning id`;
    if (removed.length === 0) throw beyondOrgReach("Removing a member");
    await tx`
      select latchkey.record_audit_event(
        ${leaving ? "org.member_left" : "org.member_removed"}, 'organization', ${orgId},
        jsonb_build_object('userId', ${userId}::uuid, 'role', ${member.role}::text))`;
  });
  return c.json({ success: true });
});
