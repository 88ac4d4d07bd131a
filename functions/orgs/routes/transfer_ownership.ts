import { z } from "zod";
import { ApiError } from "../../_shared/ground/errors.ts";
import { uuidSchema } from "../../_shared/http/ids.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import {
  beyondOrgReach,
  memberOrgView,
  noSuchMemberText,
  noSuchOrgText,
  orgIdParam,
  readMember,
  readOrg,
  requireActive,
} from "../../_shared/orgs/organizations.ts";

export const transferBody = z.strictObject({
  userId: uuidSchema.meta({ description: "The member who becomes owner." }),
});

// Two changes in one transaction, the new owner first so the organization is never without
// one: the member becomes owner, the caller admin. Only an owner reaches the owner role.
export const transferOwnershipRoute = defineRoute({
  method: "post",
  path: "/:id/transfer",
  notifies: true,
  summary: "Hand ownership to another member: they become owner, the caller admin (owners)",
  auth: ["session"],
  permissionNote: "the owner role (only an owner reaches it)",
  body: transferBody,
  responses: {
    200: "`{org}` with the caller's new role (admin).",
    400: "The member is the caller.",
    403: "The caller is not an owner; `org_suspended`.",
    404: `${noSuchMemberText} (Or ${noSuchOrgText.toLowerCase()})`,
  },
}, async (c, { body }) => {
  const orgId = orgIdParam(c);
  const self = c.get("principal").userId!;
  if (body.userId.toLowerCase() === self) {
    throw new ApiError("validation_failed", {
      details: [{ path: "userId", message: "Name another member; you are an owner already." }],
    });
  }
  const org = await asCaller(c, async (tx) => {
    const before = await readOrg(tx, orgId);
    const member = await readMember(tx, orgId, body.userId);
    if (!member) throw new ApiError("not_found", { message: noSuchMemberText });
    if (before.role !== "owner") {
      throw new ApiError("forbidden", { message: "Only an owner hands ownership on." });
    }
    requireActive(before);
    for (const [userId, role] of [[body.userId, "owner"], [self, "admin"]]) {
      const changed = await tx`
        update latchkey.org_memberships set role = ${role}, updated_at = now()
        where org_id = ${orgId} and user_id = ${userId} returning id`;
      if (changed.length === 0) throw beyondOrgReach("Handing ownership on");
    }
    await tx`
      select latchkey.record_audit_event('org.ownership_transferred', 'organization', ${orgId},
        jsonb_build_object('from', ${self}::uuid, 'to', ${body.userId}::uuid,
          'previousRole', ${member.role}::text))`;
    return await readOrg(tx, orgId);
  });
  return c.json({ org: memberOrgView(org) });
});
