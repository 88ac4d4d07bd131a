import { z } from "zod";
import { sqlState } from "../../_shared/db/database.ts";
import { randomBytes } from "../../_shared/ground/crypto.ts";
import { ApiError } from "../../_shared/ground/errors.ts";
import { respondIdempotently } from "../../_shared/http/idempotency.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import {
  memberOrgView,
  orgNameSchema,
  readOrg,
  slugSchema,
} from "../../_shared/orgs/organizations.ts";

export const createOrgBody = z.strictObject({
  name: orgNameSchema,
  slug: slugSchema.optional().meta({
    description: "Unique among organizations; made from the name when omitted.",
  }),
});

/** A slug made from a name: lowercase ASCII letters and digits, runs of anything else one hyphen. */
export function slugFromName(name: string): string {
  const slug = name.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
    .replace(/[^a-z0-9]+/g, "-").slice(0, 40).replace(/^-+|-+$/g, "");
  return slug || "org";
}

function withSuffix(slug: string): string {
  const suffix = Array.from(randomBytes(4), (byte) => (byte % 36).toString(36)).join("");
  return `${slug}-${suffix}`;
}

function slugTaken(error: unknown): boolean {
  return sqlState(error) === "23505" &&
    (error as { constraint_name?: string }).constraint_name === "organizations_slug_key";
}

export const createOrgRoute = defineRoute({
  method: "post",
  path: "/",
  idempotent: true,
  summary: "Create an organization; the caller becomes its owner; Idempotency-Key honoured",
  auth: ["session"],
  permissionNote: "with LATCHKEY_ORG_CREATION=admins, a role holding orgs:write",
  body: createOrgBody,
  responses: {
    201: "`{org}`: the organization with the caller's `role` (owner) and `permissions`.",
    403: "Organizations are made by admins only here (LATCHKEY_ORG_CREATION=admins), or the " +
      "caller is an anonymous Supabase Auth user.",
    409: "`slug_unavailable`: another organization has the slug asked for; or Idempotency-Key " +
      "reused with another request.",
  },
}, async (c, { body }) => {
  const principal = c.get("principal");
  const { config } = c.get("runtime");
  if (config.LATCHKEY_ORG_CREATION === "admins" && !principal.permissions.includes("orgs:write")) {
    throw new ApiError("forbidden", {
      message: "Only admins create organizations on this deployment (LATCHKEY_ORG_CREATION).",
    });
  }
  if (principal.anonymous) {
    throw new ApiError("forbidden", {
      message: "An anonymous Supabase Auth user cannot create an organization.",
    });
  }
  // A slug made from the name may be taken: a few tries with a random suffix, each in a
  // savepoint of the one transaction (Idempotency-Key records its answer in it). One asked for
  // is the caller's to change.
  const base = body.slug ?? slugFromName(body.name);
  return await respondIdempotently(c, async (tx) => {
    for (let attempt = 0;; attempt += 1) {
      const slug = attempt === 0 ? base : withSuffix(base);
      try {
        const id = await tx.savepoint(async (sp) => {
          const [row] = await sp<{ id: string }[]>`
            select latchkey.create_organization(${body.name}, ${slug}) as id`;
          return row.id;
        });
        const org = memberOrgView(await readOrg(tx, id));
        return { status: 201, body: { org } };
      } catch (error) {
        if (!slugTaken(error)) throw error;
        if (body.slug !== undefined || attempt >= 3) throw new ApiError("slug_unavailable");
      }
    }
  });
});
