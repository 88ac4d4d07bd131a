import { z } from "zod";
import { ApiError } from "../../_shared/ground/errors.ts";
import { pathId } from "../../_shared/http/ids.ts";
import type { Transaction } from "../../_shared/db/database.ts";
import {
  type cursorColumn,
  type keysetOf,
  listPage,
  pageQuery,
} from "../../_shared/http/pagination.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import {
  noSuchOrgText,
  orgIdParam,
  readOrg,
  requireOrgPermission,
} from "../../_shared/orgs/organizations.ts";

interface InvitationRow {
  id: string;
  org_id: string;
  email: string;
  role: string;
  invited_by: string | null;
  created_at: Date;
  expires_at: Date;
}

function invitationView(row: InvitationRow) {
  return {
    id: row.id,
    orgId: row.org_id,
    email: row.email,
    role: row.role,
    invitedBy: row.invited_by,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}

/** A page of open invitations; exported so a test can EXPLAIN exactly what the route runs. */
export function openInvitationsQuery(
  tx: Transaction,
  orgId: string,
  keyset: ReturnType<typeof keysetOf>,
  cursorAt: ReturnType<typeof cursorColumn>,
) {
  return tx<(InvitationRow & { cursor_at: string })[]>`
    select id, org_id, email, role, invited_by, created_at, expires_at, ${cursorAt}
    from latchkey.org_invitations
    where org_id = ${orgId} and accepted_at is null and revoked_at is null
      and expires_at > now() ${keyset}`;
}

const noSuchInvitationText = "No such open invitation of this organization.";

// The invitations still open: accepted, revoked and replaced ones are history, in the audit log.
export const listInvitationsRoute = defineRoute({
  method: "get",
  path: "/:id/invitations",
  summary: "An organization's open invitations (newest first, cursor pages; never a token)",
  auth: ["session"],
  permissionNote: "members:invite in the organization",
  query: z.strictObject({ ...pageQuery }),
  responses: {
    200: "`{invitations: [{id, orgId, email, role, invitedBy, createdAt, expiresAt}], limit, " +
      "nextCursor}`: not accepted, not revoked, not expired.",
    403: "The caller's organization role lacks members:invite.",
    404: noSuchOrgText,
  },
}, async (c, { query }) => {
  const orgId = orgIdParam(c);
  return c.json(
    await listPage<InvitationRow, ReturnType<typeof invitationView>>(
      c,
      query,
      "invitations",
      async (tx, keyset, cursorAt) => {
        const org = await readOrg(tx, orgId);
        if (!org.permissions.includes("members:invite")) {
          throw new ApiError("forbidden", {
            message: `Listing invitations needs members:invite in this organization; the role ${
              org.role ?? "(none)"
            } lacks it.`,
          });
        }
        return await openInvitationsQuery(tx, orgId, keyset, cursorAt);
      },
      invitationView,
    ),
  );
});

export const revokeInvitationRoute = defineRoute({
  method: "delete",
  path: "/:id/invitations/:invitationId",
  summary: "Revoke an open invitation: its link stops working",
  auth: ["session"],
  permissionNote: "members:invite in the organization",
  responses: {
    200: "`{success: true}`.",
    403: "The caller's organization role lacks members:invite; `org_suspended`.",
    404: `${noSuchInvitationText} (Or no such organization of yours.)`,
  },
}, async (c) => {
  const orgId = orgIdParam(c);
  const invitationId = pathId(c.req.param("invitationId"), noSuchInvitationText);
  await asCaller(c, async (tx) => {
    const org = await readOrg(tx, orgId);
    requireOrgPermission(org, "members:invite", "Revoking an invitation");
    const [revoked] = await tx<{ email: string; role: string }[]>`
      update latchkey.org_invitations set revoked_at = now()
      where id = ${invitationId} and org_id = ${orgId}
        and accepted_at is null and revoked_at is null
      returning email, role`;
    if (!revoked) throw new ApiError("not_found", { message: noSuchInvitationText });
    await tx`
      select latchkey.record_audit_event('org.invitation_revoked', 'organization', ${orgId},
        jsonb_build_object('invitationId', ${invitationId}::uuid, 'email', ${revoked.email}::text,
          'role', ${revoked.role}::text))`;
  });
  return c.json({ success: true });
});
