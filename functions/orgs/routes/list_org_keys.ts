import { z } from "zod";
import { defineRoute } from "../../_shared/api/routes.ts";
import { apiKeyColumns, apiKeyMetadata, type ApiKeyRow } from "../../_shared/keys/api_keys.ts";
import { listPage, pageQuery } from "../../_shared/http/pagination.ts";
import { noSuchOrgText, orgIdParam } from "../../_shared/orgs/organizations.ts";
import { orgForKeyReader } from "../org_keys.ts";

export const listOrgKeysRoute = defineRoute({
  method: "get",
  path: "/:id/keys",
  summary: "An organization's API keys (newest first, cursor pages; never a secret)",
  auth: ["session"],
  permissionNote: "keys:read in the organization (owner, admin)",
  query: z.strictObject({ ...pageQuery }),
  responses: {
    200: '`{keys, limit, nextCursor}`: each key\'s metadata with `ownerType: "org"`, `orgId` ' +
      "and `createdBy` (null once that account is deleted).",
    403: "The caller's organization role lacks keys:read.",
    404: noSuchOrgText,
  },
}, async (c, { query }) => {
  const orgId = orgIdParam(c);
  return c.json(
    await listPage<ApiKeyRow, ReturnType<typeof apiKeyMetadata>>(
      c,
      query,
      "keys",
      async (tx, keyset, cursorAt) => {
        await orgForKeyReader(tx, orgId);
        return await tx<(ApiKeyRow & { cursor_at: string })[]>`
          select ${tx(apiKeyColumns)}, ${cursorAt} from latchkey.api_keys
          where org_id = ${orgId} ${keyset}`;
      },
      apiKeyMetadata,
    ),
  );
});
