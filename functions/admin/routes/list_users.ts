import { z } from "zod";
import { listPage, pageQuery } from "../../_shared/pagination.ts";
import { roles } from "../../_shared/principal.ts";
import {
  adminUserColumns,
  type AdminUserRow,
  adminUserView,
  emailSchema,
} from "../../_shared/users.ts";
import { defineRoute } from "../../_shared/routes.ts";
import { adminCredentials } from "../admin_credentials.ts";

export const listUsersQuery = z.strictObject({
  email: emailSchema.optional(),
  role: z.enum(roles).optional(),
  tier: z.string().max(32).optional(),
  q: z.string().trim().min(1).max(200).optional(),
  ...pageQuery,
});

// `q` matches email or name, case-insensitively, as plain text (no wildcards).
function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}

export const listUsersRoute = defineRoute({
  method: "get",
  path: "/users",
  summary: "List users (newest first, cursor-paginated)",
  auth: adminCredentials,
  permission: "users:read",
  query: listUsersQuery,
  responses: { 200: "`{users, limit, nextCursor}`." },
}, async (c, { query }) => {
  const like = query.q ? likePattern(query.q) : null;
  return c.json(
    await listPage(
      c,
      query,
      "users",
      (tx, keyset, cursorAt) =>
        tx<(AdminUserRow & { cursor_at: string })[]>`
            select ${tx(adminUserColumns)}, ${cursorAt}
            from latchkey.users
            where true
              ${query.email ? tx`and lower(email) = lower(${query.email})` : tx``}
              ${query.role ? tx`and role = ${query.role}` : tx``}
              ${query.tier ? tx`and tier = ${query.tier}` : tx``}
              ${like ? tx`and (email ilike ${like} or name ilike ${like})` : tx``}
              ${keyset}`,
      adminUserView,
    ),
  );
});
