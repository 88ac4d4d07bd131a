import { z } from "zod";
import { sqlState } from "../../_shared/db/database.ts";
import { ApiError } from "../../_shared/ground/errors.ts";
import { asCaller } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import {
  memberOrgView,
  noSuchOrgText,
  orgIdParam,
  orgNameSchema,
  readOrg,
  requireOrgPermission,
  slugSchema,
} from "../../_shared/orgs/organizations.ts";

export const updateOrgBody = z.strictObject({
  name: orgNameSchema.optional(),
  slug: slugSchema.optional(),
}).refine((body) => Object.keys(body).length > 0, { message: "Change at least one field." });

export const updateOrgRoute = defineRoute({
  method: "patch",
  path: "/:id",
  summary: "Rename an organization or change its slug (org:write: owners and org admins)",
  auth: ["session"],
  permissionNote: "org:write in the organization (owner, admin)",
  body: updateOrgBody,
  responses: {
    200: "`{org}` after the change.",
    403: "The caller's organization role lacks org:write; `org_suspended`: the organization " +
      "is suspended.",
    404: noSuchOrgText,
    409: "`slug_unavailable`: another organization has that slug.",
  },
}, async (c, { body }) => {
  const id = orgIdParam(c);
  try {
    const org = await asCaller(c, async (tx) => {
      const before = await readOrg(tx, id);
      requireOrgPermission(before, "org:write", "Changing the organization");
      const changed = await tx`
        update latchkey.organizations set name = ${body.name ?? before.name},
          slug = ${body.slug ?? before.slug}, updated_at = now()
        where id = ${id} returning id`;
      if (changed.length === 0) throw new ApiError("forbidden");
      await tx`
        select latchkey.record_audit_event('org.updated', 'organization', ${id},
          jsonb_build_object('before', jsonb_build_object('name', ${before.name}::text,
            'slug', ${before.slug}::text), 'after', ${tx.json(body)}::jsonb))`;
      return await readOrg(tx, id);
    });
    return c.json({ org: memberOrgView(org) });
  } catch (error) {
    if (sqlState(error) === "23505") throw new ApiError("slug_unavailable");
    throw error;
  }
});
