import { ApiError } from "../_shared/errors.ts";
import type { AppContext } from "../_shared/http.ts";
import { pathId } from "../_shared/ids.ts";

const message = "No such user.";

export const noSuchUser = () => new ApiError("not_found", { message });

/** The `:id` of a `/users/:id` route. */
export function targetUserId(c: AppContext): string {
  return pathId(c.req.param("id") ?? "", message);
}
