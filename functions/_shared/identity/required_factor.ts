import { createMiddleware } from "hono/factory";
import { ApiError } from "../ground/errors.ts";
import type { AppContext, AppEnv } from "../http/context.ts";
import { asCaller } from "../http/request.ts";

/**
 * LATCHKEY_MFA_REQUIRED_ROLES at the HTTP layer: a session whose role needs a second factor it
 * has not verified (authenticate sets `awaitsSecondFactor`) is answered 403 `mfa_required`,
 * naming the route that leads on. PostgreSQL refuses it every permission as well
 * (latchkey.caller_awaits_second_factor); this answer is there to say what to do.
 */

export const enrolmentRoute = "POST /auth/factors/totp";
export const verificationRoute = "POST /auth/factors/:id/verify";

/** 403 `mfa_required` naming enrolment, or verification when the account has a factor already. */
export async function mfaRequired(c: AppContext): Promise<ApiError> {
  if (c.get("runtime").config.LATCHKEY_IDENTITY === "supabase") {
    // Latchkey's factor routes are Supabase Auth's here (they answer 404).
    return new ApiError("mfa_required", {
      message: "Your role needs a second factor and this Supabase Auth session is aal1: " +
        "enrol or verify a factor with supabase.auth.mfa, then send the aal2 access token.",
    });
  }
  const principal = c.get("principal");
  const [{ confirmed }] = await asCaller(c, (tx) =>
    tx<{ confirmed: boolean }[]>`
      select exists(select 1 from latchkey.mfa_factors
        where user_id = ${principal.userId} and confirmed_at is not null) as confirmed`);
  return confirmed
    ? new ApiError("mfa_required", {
      message: "Your role needs a second factor: verify one of your factors with this session " +
        `(${verificationRoute}; GET /auth/factors lists them), then try again.`,
      nextRoute: verificationRoute,
    })
    : new ApiError("mfa_required", {
      message: "Your role needs a second factor: enrol an authenticator app " +
        `(${enrolmentRoute}), verify its first code (${verificationRoute}), then try again.`,
      nextRoute: enrolmentRoute,
    });
}

/** Every route that takes a session and does not declare `beforeRequiredFactor` runs this. */
export const refuseAwaitingSecondFactor = createMiddleware<AppEnv>(async (c, next) => {
  if (c.get("principal")?.awaitsSecondFactor) throw await mfaRequired(c);
  await next();
});
