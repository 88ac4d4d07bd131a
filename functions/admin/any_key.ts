import { apiKeyColumns, type ApiKeyRow } from "../_shared/keys/api_keys.ts";
import type { Transaction } from "../_shared/db/database.ts";
import { ApiError } from "../_shared/ground/errors.ts";
import type { AppContext } from "../_shared/http/context.ts";
import { pathId } from "../_shared/http/ids.ts";
import { type KeyAccess, noSuchKey } from "../_shared/keys/key_lifecycle.ts";

/** The admin key routes' `:id`. */
export function anyKeyId(c: AppContext): string {
  return pathId(c.req.param("id"), noSuchKey);
}

export const beyondReach = "The key's owner has a role holding a permission the caller lacks.";

/** Every key a key reader sees; changing one needs keys:write and reach over its owner. */
export function anyKeyAccess(): KeyAccess {
  return {
    findKey: async (tx, id) => {
      const [row] = await tx<ApiKeyRow[]>`
        select ${tx(apiKeyColumns)} from latchkey.api_keys where id = ${id}`;
      return row ?? null;
    },
    forbidden: new ApiError("forbidden", { message: `${beyondReach} It needs roles it lacks.` }),
  };
}

/**
 * The platform role a key's owner has and what it holds now, for reach (`owner_role`,
 * `owner_permissions`): an organization's key has no user above anyone, and is reached as a
 * user's (as caller_reaches_user answers for it in SQL).
 */
export function keyOwnerReach(tx: Transaction) {
  const role = tx`case when org_id is not null then 'user' else latchkey.user_role(user_id) end`;
  return tx`${role} as owner_role, latchkey.role_permission_names(${role}) as owner_permissions`;
}
