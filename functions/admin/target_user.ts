import type { Transaction } from "../_shared/db/database.ts";
import { ApiError } from "../_shared/ground/errors.ts";
import type { AppContext } from "../_shared/http/context.ts";
import { pathId } from "../_shared/http/ids.ts";
import { requireReach } from "../_shared/identity/reach.ts";
import { adminUserColumns, type AdminUserRow } from "../_shared/accounts/users.ts";

export const noSuchUserText = "No such user.";

/** The 403 every change to an account above the caller answers (requireReach's message). */
export const beyondReachText =
  "The account's role holds a permission the caller lacks (the message names it).";

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

/**
 * The account a change is about: 404 when there is none (or the caller may not see it), 403
 * when its role holds a permission the caller lacks (`action` names the change in that
 * answer). `lock` holds the row until the transaction ends; locking needs users:write.
 */
export async function userWithinReach(
  c: AppContext,
  tx: Transaction,
  id: string,
  action: string,
  { lock = false } = {},
): Promise<AdminUserRow> {
  const [user] = await tx<(AdminUserRow & { role_permissions: string[] })[]>`
    select ${tx(adminUserColumns)}, latchkey.role_permission_names(role) as role_permissions
    from latchkey.users where id = ${id}`;
  if (!user) throw noSuchUser();
  requireReach(c.get("principal"), { name: user.role, permissions: user.role_permissions }, action);
  // Locked only now: the lock needs the update policy, which hides accounts beyond the
  // caller's reach, and the answer above should say so rather than 404.
  if (lock) {
    const [locked] = await tx<AdminUserRow[]>`
      select ${tx(adminUserColumns)} from latchkey.users where id = ${id} for update`;
    if (!locked) throw noSuchUser();
    return locked;
  }
  return user;
}
