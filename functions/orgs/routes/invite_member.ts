import { z } from "zod";
import { withStatementTimeout } from "../../_shared/db/database.ts";
import { newAccountToken, sha256Hex } from "../../_shared/ground/crypto.ts";
import { ApiError } from "../../_shared/ground/errors.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { emailSchema } from "../../_shared/accounts/users.ts";
import { orgInvitationMail } from "../../_shared/mail/account_mail.ts";
import { mailerFor } from "../../_shared/mail/mailer.ts";
import { deliverMailInBackground } from "../../_shared/mail/outbox.ts";
import {
  noSuchOrgText,
  orgIdParam,
  orgRoleSchema,
  readOrg,
  requireOrgPermission,
  requireOrgRole,
} from "../../_shared/orgs/organizations.ts";

export const inviteBody = z.strictObject({
  email: emailSchema,
  role: orgRoleSchema.default("member"),
});

/**
 * An invitation: a single-use token (stored as its SHA-256) mailed through the outbox, in the
 * transaction that stores it (latchkey.invite_to_organization decides who may invite whom).
 */
export const inviteMemberRoute = defineRoute({
  method: "post",
  path: "/:id/invitations",
  summary: "Invite an address to the organization, with a role (members:invite)",
  auth: ["session"],
  permissionNote: "members:invite in the organization (owner, admin), and a role the inviter " +
    "reaches (nobody invites to a role above their own)",
  body: inviteBody,
  responses: {
    201: "`{invitation: {id, orgId, email, role, expiresAt}}`; the mail is on its way. Inviting " +
      "an address again replaces its open invitation (the old link stops working).",
    400: "Invalid body, or no such organization role.",
    403: "The caller's organization role lacks members:invite, or the role is above theirs; " +
      "`org_suspended`.",
    404: noSuchOrgText,
    409: "`already_member`: the address is a member's.",
    429: "Too many invitations from this account this hour (LATCHKEY_ORG_INVITATIONS_PER_HOUR).",
    501: "No mailer is configured (LATCHKEY_MAILER=none).",
  },
}, async (c, { body }) => {
  const runtime = c.get("runtime");
  const { config, sql } = runtime;
  const principal = c.get("principal");
  if (!mailerFor(config)) {
    throw new ApiError("not_configured", {
      message: "No mailer is configured here (LATCHKEY_MAILER=none): invitations go by mail.",
    });
  }
  const id = orgIdParam(c);
  // Every try counts, before anything else is read (mail to any address is a spammer's wish;
  // and outside the caller's transaction, which must not wait on a second connection).
  const [{ retry_after }] = await withStatementTimeout(
    sql,
    sql<{ retry_after: number }[]>`
      select latchkey.take_client_allowance('org_invitations', ${principal.userId!},
        ${config.LATCHKEY_ORG_INVITATIONS_PER_HOUR}, '1 hour') as retry_after`,
  );
  if (retry_after > 0) {
    throw new ApiError("too_many_requests", {
      message: "Too many invitations from this account; retry later.",
      headers: { "Retry-After": String(retry_after) },
    });
  }
  const invitation = await asCaller(c, async (tx) => {
    const org = await readOrg(tx, id);
    requireOrgPermission(org, "members:invite", "Inviting");
    await requireOrgRole(tx, body.role);
    const [{ reaches }] = await tx<{ reaches: boolean }[]>`
      select latchkey.caller_reaches_org_role(${id}, ${body.role}) as reaches`;
    if (!reaches) {
      throw new ApiError("forbidden", {
        message: `Nobody invites to a role above their own: ${body.role} holds a permission ` +
          `the role ${org.role} lacks.`,
      });
    }
    const token = newAccountToken();
    const expiresAt = new Date(Date.now() + config.LATCHKEY_ORG_INVITATION_TTL_HOURS * 3_600_000);
    const mail = orgInvitationMail(config, {
      to: body.email,
      orgName: org.name,
      inviterName: principal.user?.name ?? "A member",
      role: body.role,
    }, token);
    const [row] = await tx<{ id: string }[]>`
      select latchkey.invite_to_organization(${id}, ${body.email}, ${body.role},
        decode(${sha256Hex(token)}, 'hex'), ${expiresAt.toISOString()}::timestamptz,
        ${mail.subject}, ${mail.text}, ${mail.html}) as id`;
    return { id: row.id, orgId: id, email: body.email, role: body.role, expiresAt };
  });
  deliverMailInBackground(runtime, { now: true });
  return c.json({ invitation }, 201);
});
