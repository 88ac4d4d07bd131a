import { ApiError } from "../_shared/ground/errors.ts";
import type { AppContext } from "../_shared/http/context.ts";
import { pathId } from "../_shared/http/ids.ts";
import { type KeyAccess, noSuchKey, ownedKeyAccess } from "../_shared/keys/key_lifecycle.ts";

/** The `:id` of a `/keys/:id` route. */
export function ownKeyId(c: AppContext): string {
  return pathId(c.req.param("id"), noSuchKey);
}

/**
 * The caller's own keys: another account's key is a 404, as if it did not exist. An API key
 * changes only itself among its owner's keys (the database refuses the rest).
 */
export function ownKeyAccess(c: AppContext): KeyAccess {
  const { userId } = c.get("principal");
  const forbidden = new ApiError("interactive_session_required", {
    message: "An API key may change only itself; sign in to change your other keys.",
  });
  // An organization's key has no user, so no keys here: its own is its organization's.
  return userId
    ? ownedKeyAccess({ userId }, forbidden)
    : { findKey: () => Promise.resolve(null), forbidden };
}
