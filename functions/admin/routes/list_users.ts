import { Hono } from "hono";
import { z } from "zod";
import { requirePermission } from "../../_shared/authenticate.ts";
import { withCaller } from "../../_shared/database.ts";
import { type AppEnv, readQuery, requestInfo } from "../../_shared/http.ts";
import {
  afterCursor,
  cursorColumn,
  decodeCursor,
  pageOf,
  pageQuery,
} from "../../_shared/pagination.ts";
import { roles } from "../../_shared/principal.ts";
import {
  adminUserColumns,
  type AdminUserRow,
  adminUserView,
  emailSchema,
} from "../../_shared/users.ts";

const listUsersQuery = z.strictObject({
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

export const listUsersRoute = new Hono<AppEnv>().get(
  "/users",
  requirePermission("users:read"),
  async (c) => {
    const query = readQuery(c, listUsersQuery);
    const cursor = decodeCursor(query.cursor);
    const rows = await withCaller(
      c.get("runtime").sql,
      c.get("principal"),
      requestInfo(c),
      (tx) =>
        tx<(AdminUserRow & { cursor_at: string })[]>`
        select ${tx(adminUserColumns)}, ${cursorColumn(tx)}
        from latchkey.users
        where true
          ${query.email ? tx`and lower(email) = lower(${query.email})` : tx``}
          ${query.role ? tx`and role = ${query.role}` : tx``}
          ${query.tier ? tx`and tier = ${query.tier}` : tx``}
          ${
          query.q
            ? tx`and (email ilike ${likePattern(query.q)} or name ilike ${likePattern(query.q)})`
            : tx``
        }
          ${afterCursor(tx, cursor)}
        order by created_at desc, id desc
        limit ${query.limit + 1}`,
    );
    const page = pageOf(rows, query.limit);
    return c.json({
      users: page.rows.map(adminUserView),
      limit: query.limit,
      nextCursor: page.nextCursor,
    });
  },
);
