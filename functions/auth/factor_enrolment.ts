import { ApiError } from "../_shared/ground/errors.ts";
import { type AppContext } from "../_shared/http/context.ts";
import { asCaller } from "../_shared/http/request.ts";

/**
 * A new factor (an authenticator app or a passkey) is added by a session at aal2 when the
 * account has a confirmed factor already: a stolen password session must not add its own
 * factor. Throws 403 step_up_required otherwise.
 */
export async function requireEnrolmentAllowed(c: AppContext): Promise<void> {
  const principal = c.get("principal");
  if (principal.session?.aal === "aal2") return;
  const [{ protectedBy }] = await asCaller(c, (tx) =>
    tx<{ protectedBy: boolean }[]>`
      select exists(select 1 from latchkey.mfa_factors
        where user_id = ${principal.userId} and confirmed_at is not null) as "protectedBy"`);
  if (protectedBy) throw new ApiError("step_up_required");
}
