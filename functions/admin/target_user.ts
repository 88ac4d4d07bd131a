import type { Transaction } from "../_shared/database.ts";
import { ApiError } from "../_shared/errors.ts";
import type { AppContext } from "../_shared/http.ts";
import { pathId } from "../_shared/ids.ts";

export const noSuchUserText = "No such user.";

export const noSuchUser = () => new ApiError("not_found", { message: noSuchUserText });

/** The `:id` of a `/users/:id` route. */
export function targetUserId(c: AppContext): string {
  return pathId(c.req.param("id"), noSuchUserText);
}

/** Throws the 404 unless the user exists (and the caller may see it: RLS decides). */
export async function requireUserExists(tx: Transaction, id: string): Promise<void> {
  const [user] = await tx`select 1 from latchkey.users where id = ${id}`;
  if (!user) throw noSuchUser();
}
