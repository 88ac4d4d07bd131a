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
export const passkeyEnrolmentRoute = "POST /auth/factors/passkey/options";

/** The route that verifies one factor: `POST /auth/factors/<id>/verify`. */
export function factorVerificationRoute(factorId: string): string {
  return verificationRoute.replace(":id", factorId);
}

/**
 * 403 `mfa_required` naming the way on in `nextRoute`: verification when the account has a
 * confirmed factor (any of them, so the template); the verification of the factor it began to
 * add when it has only an unconfirmed one (a TOTP factor awaiting its first code: a passkey is
 * confirmed by its registration); enrolment otherwise.
 */
export async function mfaRequired(c: AppContext): Promise<ApiError> {
  if (c.get("runtime").config.LATCHKEY_IDENTITY === "supabase") {
    // Latchkey's factor routes are Supabase Auth's here (they answer 404).
    return new ApiError("mfa_required", {
      message: "Your role needs a second factor and this Supabase Auth session is aal1: " +
        "enrol or verify a factor with supabase.auth.mfa, then send the aal2 access token.",
    });
  }
  const principal = c.get("principal");
  const [{ confirmed, pending }] = await asCaller(
    c,
    (tx) =>
      tx<{ confirmed: boolean; pending: string | null }[]>`
      select
        exists(select 1 from latchkey.mfa_factors
          where user_id = ${principal.userId} and confirmed_at is not null) as confirmed,
        (select id from latchkey.mfa_factors
          where user_id = ${principal.userId} and confirmed_at is null
          order by created_at desc, id limit 1) as pending`,
  );
  if (confirmed) {
    return new ApiError("mfa_required", {
      message: "Your role needs a second factor: verify one of your factors with this session " +
        `(${verificationRoute}; GET /auth/factors lists them), then try again.`,
      nextRoute: verificationRoute,
    });
  }
  if (pending) {
    const route = factorVerificationRoute(pending);
    return new ApiError("mfa_required", {
      message: "Your role needs a second factor: confirm the authenticator app you began to " +
        `add with its first code (${route}), then try again. Lost its secret? Remove it ` +
        `(DELETE /auth/factors/${pending}) and enrol again (${enrolmentRoute}, or a passkey: ` +
        `${passkeyEnrolmentRoute}).`,
      nextRoute: route,
    });
  }
  return new ApiError("mfa_required", {
    message: "Your role needs a second factor: enrol an authenticator app " +
      `(${enrolmentRoute}, then its first code to ${verificationRoute}) or a passkey ` +
      `(${passkeyEnrolmentRoute}, then POST /auth/factors/passkey), then try again.`,
    nextRoute: enrolmentRoute,
  });
}

/** Every route that takes a session and does not declare `beforeRequiredFactor` runs this. */
export const refuseAwaitingSecondFactor = createMiddleware<AppEnv>(async (c, next) => {
  if (c.get("principal")?.awaitsSecondFactor) throw await mfaRequired(c);
  await next();
});
