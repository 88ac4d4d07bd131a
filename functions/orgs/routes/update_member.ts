import { z } from "zod";
import { ApiError } from "../../_shared/ground/errors.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import {
  beyondOrgReach,
  memberIdParam,
  memberView,
  noSuchMemberText,
  orgIdParam,
  orgRoleSchema,
  readMember,
  readOrg,
  requireOrgPermission,
  requireOrgRole,
} from "../../_shared/orgs/organizations.ts";

export const updateMemberBody = z.strictObject({ role: orgRoleSchema });

// The policy decides (members:write, reach over the member's role and the new one, an active
// organization); the guard trigger keeps an owner. Making someone owner takes an owner.
export const updateMemberRoute = defineRoute({
  method: "patch",
  path: "/:id/members/:userId",
  notifies: true,
  summary: "Change a member's role (members:write, within the changer's reach)",
  auth: ["session"],
  permissionNote: "members:write in the organization, and a role holding every permission of " +
    "the member's role and of the new one (only owners make or unmake owners)",
  body: updateMemberBody,
  responses: {
    200: "`{member}` after the change.",
    400: "Invalid body, or no such organization role.",
    403: "The caller's organization role lacks members:write, or the member's role or the new " +
      "one is above it; `org_suspended`.",
    404: `${noSuchMemberText} (Or no such organization of yours.)`,
    409: "`last_owner`: the organization's only owner cannot be demoted.",
  },
}, async (c, { body }) => {
  const [orgId, userId] = [orgIdParam(c), memberIdParam(c)];
  const member = await asCaller(c, async (tx) => {
    const org = await readOrg(tx, orgId);
    const before = await readMember(tx, orgId, userId);
    if (!before) throw new ApiError("not_found", { message: noSuchMemberText });
    requireOrgPermission(org, "members:write", "Changing a member's role");
    await requireOrgRole(tx, body.role);
    const changed = await tx`
      update latchkey.org_memberships set role = ${body.role}, updated_at = now()
      where org_id = ${orgId} and user_id = ${userId} returning id`;
    if (changed.length === 0) throw beyondOrgReach("Changing a member's role");
    await tx`
      select latchkey.record_audit_event('org.member_role_changed', 'organization', ${orgId},
        jsonb_build_object('userId', ${userId}::uuid, 'before', ${before.role}::text,
          'after', ${body.role}::text))`;
    return (await readMember(tx, orgId, userId))!;
  });
  return c.json({ member: memberView(member) });
});
