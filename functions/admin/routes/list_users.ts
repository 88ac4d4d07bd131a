import { z } from "zod";
import type { Transaction } from "../../_shared/db/database.ts";
import {
  type cursorColumn,
  type CursorPosition,
  decodeCursor,
  type keysetOf,
  listPage,
  pageQuery,
} from "../../_shared/http/pagination.ts";
import { roleNameSchema } from "../../_shared/ground/fields.ts";
import {
  adminUserColumns,
  type AdminUserRow,
  adminUserView,
  emailSchema,
} from "../../_shared/accounts/users.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { adminCredentials } from "../admin_credentials.ts";
import {
  countsSupabaseFactors,
  secondFactorFilter,
  type SecondFactorRow,
  secondFactorsText,
  secondFactorsView,
  secondFactorTypesColumn,
  withSupabaseFactorTypes,
} from "../second_factor_state.ts";

export const listUsersQuery = z.strictObject({
  email: emailSchema.optional(),
  role: roleNameSchema.optional(),
  tier: z.string().max(32).optional(),
  q: z.string().trim().min(1).max(200).optional(),
  verified: z.enum(["true", "false"]).optional().meta({
    description: "false: only accounts whose address is not verified; true: only verified.",
  }),
  banned: z.enum(["true", "false"]).optional().meta({
    description: "true: only banned accounts; false: only accounts that are not banned.",
  }),
  secondFactor: z.enum(["true", "false"]).optional().meta({
    description: "false: only accounts without a confirmed second factor; true: only those " +
      "with one.",
  }),
  ...pageQuery,
});

function flag(value: "true" | "false" | undefined): boolean | null {
  return value === undefined ? null : value === "true";
}

/**
 * `q` matches email or name, case-insensitively, as plain text (no wildcards). A substring
 * match cannot drive an index under RLS (no such operator is leakproof), so the page's ids come
 * from `latchkey.matching_user_ids`, which searches with the trigram index and answers only a
 * caller the users policy lets read everyone; the rows are then read through the policy.
 * Filters here compare plain columns with `=`, which the planner may push into an index.
 * With Supabase Auth's factors counted (`supabase`), a `secondFactor` filter takes its ids from
 * that function too (an empty `q` matches everyone): it reads auth.mfa_factors in the same
 * statement, on its user_id index, which the caller may not.
 */
function idsFilter(
  tx: Transaction,
  query: z.output<typeof listUsersQuery>,
  cursor: CursorPosition | null,
  supabase: boolean,
) {
  return tx`and id = any(array(select latchkey.matching_user_ids(
    ${query.q ?? ""}, ${query.role ?? null}, ${query.tier ?? null},
    ${flag(query.banned)}::boolean, ${flag(query.verified)}::boolean,
    ${flag(query.secondFactor)}::boolean,
    ${cursor?.createdAt ?? null}::text::timestamptz, ${cursor?.id ?? null}::uuid,
    ${query.limit + 1}, ${supabase})))`;
}

/** The page's query; exported so a test can EXPLAIN exactly what the route runs. */
export function usersPageQuery(
  tx: Transaction,
  query: z.output<typeof listUsersQuery>,
  cursor: CursorPosition | null,
  keyset: ReturnType<typeof keysetOf>,
  cursorAt: ReturnType<typeof cursorColumn>,
  supabase = false,
) {
  // An exact email is one row at most: its factors are looked at on that row.
  const idsFromSearch = query.q !== undefined ||
    (supabase && query.secondFactor !== undefined && !query.email);
  const rows = tx<(AdminUserRow & SecondFactorRow & { cursor_at: string })[]>`
    select ${tx(adminUserColumns)}, ${secondFactorTypesColumn(tx, supabase)}, ${cursorAt}
    from latchkey.users
    where true
      ${query.email ? tx`and email_lower = lower(${query.email})` : tx``}
      ${query.role ? tx`and role = ${query.role}` : tx``}
      ${query.tier ? tx`and tier = ${query.tier}` : tx``}
      ${
    query.verified === "false"
      ? tx`and email_verified_at is null`
      : query.verified === "true"
      ? tx`and email_verified_at is not null`
      : tx``
  }
      ${
    query.banned === "true"
      ? tx`and banned_at is not null`
      : query.banned === "false"
      ? tx`and banned_at is null`
      : tx``
  }
      ${supabase && idsFromSearch ? tx`` : secondFactorFilter(tx, query.secondFactor, supabase)}
      ${idsFromSearch ? idsFilter(tx, query, cursor, supabase) : tx``}
      ${keyset}`;
  if (!supabase) return rows;
  return tx<(AdminUserRow & SecondFactorRow & { cursor_at: string })[]>`${
    withSupabaseFactorTypes(tx, rows, tx`order by page.created_at desc, page.id desc`)
  }`;
}

export const listUsersRoute = defineRoute({
  method: "get",
  path: "/users",
  summary: "List users (newest first, cursor-paginated)",
  auth: adminCredentials,
  permission: "users:read",
  query: listUsersQuery,
  responses: { 200: `\`{users, limit, nextCursor}\`; each user's ${secondFactorsText}` },
}, async (c, { query }) => {
  const cursor = decodeCursor(query.cursor);
  const supabase = countsSupabaseFactors(c);
  return c.json(
    await listPage(
      c,
      query,
      "users",
      (tx, keyset, cursorAt) => usersPageQuery(tx, query, cursor, keyset, cursorAt, supabase),
      (row) => ({ ...adminUserView(row), secondFactors: secondFactorsView(c, row) }),
    ),
  );
});
