import { z } from "zod";
import { base64Decode, base64UrlEncode } from "../ground/crypto.ts";
import { type Sql, type Transaction } from "../db/database.ts";
import { ApiError } from "../ground/errors.ts";
import { type AppContext } from "./context.ts";
import { asCaller } from "./request.ts";
import { uuidSchema } from "./ids.ts";

/** `limit` and `cursor`, as every list route takes them. */
export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
};

export interface CursorPosition {
  createdAt: string;
  id: string;
}

const cursorSchema = z.tuple([z.iso.datetime({ precision: 6 }), uuidSchema]);

/** Opaque to clients: base64url of `[createdAt with microseconds, id]`. */
export function encodeCursor(position: CursorPosition): string {
  return base64UrlEncode(
    new TextEncoder().encode(JSON.stringify([position.createdAt, position.id])),
  );
}

export function decodeCursor(cursor: string | undefined): CursorPosition | null {
  if (cursor === undefined) return null;
  const invalid = () =>
    new ApiError("validation_failed", {
      details: [{ path: "cursor", message: "Use the nextCursor of a previous page." }],
    });
  const bytes = base64Decode(cursor);
  if (!bytes) throw invalid();
  try {
    const [createdAt, id] = cursorSchema.parse(JSON.parse(new TextDecoder().decode(bytes)));
    return { createdAt, id };
  } catch {
    throw invalid();
  }
}

/** The column every list selects so its rows can become cursors (microseconds, UTC). */
export function cursorColumn(sql: Sql | Transaction) {
  return sql`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_at`;
}

/**
 * Keyset condition for newest-first lists on (created_at, id): stable under concurrent inserts,
 * which land before the first page and never shift later ones.
 */
export function afterCursor(sql: Sql | Transaction, position: CursorPosition | null) {
  // Through text: postgres.js would send a timestamptz parameter as a JS Date, dropping the
  // microseconds the cursor needs to be exact.
  return position
    ? sql`and (created_at, id) < (${position.createdAt}::text::timestamptz, ${position.id}::uuid)`
    : sql``;
}

/** Trims the extra row fetched to learn whether another page exists. */
export function pageOf<Row extends { cursor_at: string; id: string }>(rows: Row[], limit: number) {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    rows: page,
    nextCursor: rows.length > limit && last
      ? encodeCursor({ createdAt: last.cursor_at, id: last.id })
      : null,
  };
}

/** The cursor condition, the newest-first order and the limit (one row more, to see a next page). */
export function keysetOf(tx: Transaction, cursor: CursorPosition | null, limit: number) {
  return tx`${afterCursor(tx, cursor)} order by created_at desc, id desc limit ${limit + 1}`;
}

/**
 * One newest-first page of a list, read as the caller. `select` writes the query up to its
 * filters and ends it with `keyset`, which adds the cursor condition, the order and the limit.
 * Answers `{[name]: items, limit, nextCursor}`.
 */
export async function listPage<Row extends { id: string }, Item>(
  c: AppContext,
  query: { limit: number; cursor?: string },
  name: string,
  select: (
    tx: Transaction,
    keyset: ReturnType<typeof afterCursor>,
    cursorAt: ReturnType<typeof cursorColumn>,
  ) => Promise<readonly (Row & { cursor_at: string })[]>,
  view: (row: Row) => Item,
) {
  const cursor = decodeCursor(query.cursor);
  const rows = await asCaller(
    c,
    (tx) => select(tx, keysetOf(tx, cursor, query.limit), cursorColumn(tx)),
  );
  const page = pageOf([...rows], query.limit);
  return { [name]: page.rows.map(view), limit: query.limit, nextCursor: page.nextCursor };
}
