import { z } from "zod";
import { looksLikeAccountToken, sha256Hex } from "../../_shared/ground/crypto.ts";
import { ApiError } from "../../_shared/ground/errors.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { memberOrgView, readOrg } from "../../_shared/orgs/organizations.ts";

export const acceptInvitationBody = z.strictObject({
  token: z.string().max(200).meta({ description: "The token of the mailed link's fragment." }),
});

type Outcome =
  | "accepted"
  | "invalid_token"
  | "other_address"
  | "email_not_verified"
  | "org_suspended"
  | "already_member";

/** What each refusal answers; latchkey.accept_org_invitation audits them. */
const refusals: Record<Exclude<Outcome, "accepted">, () => ApiError> = {
  invalid_token: () => new ApiError("invalid_token"),
  other_address: () =>
    new ApiError("forbidden", {
      message: "This invitation is for another address: sign in (or sign up) with the address " +
        "it was sent to, then accept it.",
    }),
  email_not_verified: () =>
    new ApiError("email_not_verified", {
      message: "Confirm your email address first (the link we sent, or POST " +
        "/auth/email/resend), then accept the invitation.",
    }),
  org_suspended: () => new ApiError("org_suspended"),
  already_member: () => new ApiError("already_member"),
};

// An outcome, not an exception: a refusal's audit row commits with the answer.
export const acceptInvitationRoute = defineRoute({
  method: "post",
  path: "/invitations/accept",
  notifies: true,
  summary: "Accept an invitation, as a session of the invited (and verified) address",
  auth: ["session"],
  body: acceptInvitationBody,
  responses: {
    200: "`{org}`: the organization joined, with the invited `role`.",
    400: "`invalid_token`: unknown, used, replaced or expired.",
    403: "`forbidden`: the session's address is not the invited one (the invitation stays " +
      "open for it); `email_not_verified`; `org_suspended`.",
    409: "`already_member`: the caller is a member already (the invitation is spent).",
  },
}, async (c, { body }) => {
  if (!looksLikeAccountToken(body.token)) throw new ApiError("invalid_token");
  const result = await asCaller(c, async (tx) => {
    const [row] = await tx<{ outcome: Outcome; org_id: string | null }[]>`
      select outcome, org_id
      from latchkey.accept_org_invitation(decode(${sha256Hex(body.token)}, 'hex'))`;
    return row.outcome === "accepted"
      ? { outcome: row.outcome, org: await readOrg(tx, row.org_id!) }
      : { outcome: row.outcome };
  });
  if (result.outcome !== "accepted") throw refusals[result.outcome]();
  return c.json({ org: memberOrgView(result.org!) });
});
