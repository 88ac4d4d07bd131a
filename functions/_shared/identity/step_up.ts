import { createMiddleware } from "hono/factory";
import { ApiError } from "../ground/errors.ts";
import type { AppContext, AppEnv } from "../http/context.ts";
import { secondFactorVerifiedAt } from "../ground/principal.ts";

/**
 * Step-up (issue 28): a dangerous action by a session needs a second factor verified in the
 * last LATCHKEY_STEP_UP_MINUTES, so a stolen session token or a borrowed unlocked laptop is not
 * the whole admin plane. Only sessions are asked: an API key or the X-Admin-Key is a machine's
 * credential with no second factor to give, and a key holding an admin permission was itself
 * minted with a step-up. A session of an account with no factor cannot step up: it is refused
 * like a stale one and told to enrol one (enrolling and verifying it is the step-up).
 * The database refuses the same changes itself (latchkey.require_step_up); this answers first,
 * before any work, and covers what the database cannot see (reading the audit log out).
 */

/** The refusal, naming the window; `cause` when the database refused (P0001 step_up_required). */
export function stepUpRefusal(minutes: number, cause?: unknown): ApiError {
  return new ApiError("step_up_required", {
    cause,
    message: `This needs a second factor verified in the last ${minutes} minutes: verify one ` +
      "of your factors (POST /auth/factors/:id/verify with a code or a passkey's assertion, " +
      "or POST /auth/factors/recovery with a recovery code; it refreshes this session's " +
      "step-up) and try again. An account with no factor enrols " +
      "one first (POST /auth/factors/totp or POST /auth/factors/passkey/options).",
  });
}

/** Whether the caller may take a dangerous action now (true for anything but a session). */
export function steppedUp(c: AppContext): boolean {
  const principal = c.get("principal");
  if (principal.kind !== "session" && principal.kind !== "mfa_challenge") return true;
  const verifiedAt = secondFactorVerifiedAt(principal.session);
  const windowSeconds = c.get("runtime").config.LATCHKEY_STEP_UP_MINUTES * 60;
  return verifiedAt !== null && verifiedAt > Date.now() / 1000 - windowSeconds;
}

/** Throws 403 step_up_required unless the caller has stepped up. */
export function requireSteppedUp(c: AppContext): void {
  if (!steppedUp(c)) throw stepUpRefusal(c.get("runtime").config.LATCHKEY_STEP_UP_MINUTES);
}

/** The same as a route's middleware, for a route whose every call is dangerous. */
export const requireStepUp = createMiddleware<AppEnv>(async (c, next) => {
  requireSteppedUp(c);
  await next();
});
