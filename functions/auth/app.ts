import { functionApp, type FunctionDefinition } from "../_shared/api/routes.ts";
import { changePasswordRoute } from "./routes/change_password.ts";
import { enrolTotpFactorRoute } from "./routes/enrol_totp_factor.ts";
import { factorsRoute } from "./routes/factors.ts";
import { passkeyAssertionOptionsRoute } from "./routes/passkey_assertion_options.ts";
import { passkeyRegistrationOptionsRoute } from "./routes/passkey_registration_options.ts";
import { registerPasskeyRoute } from "./routes/register_passkey.ts";
import { removeFactorRoute } from "./routes/remove_factor.ts";
import { renameFactorRoute } from "./routes/rename_factor.ts";
import { verifyFactorRoute } from "./routes/verify_factor.ts";
import { recoverWithCodeRoute } from "./routes/recover_with_code.ts";
import { forgotPasswordRoute } from "./routes/forgot_password.ts";
import { resetPasswordRoute } from "./routes/reset_password.ts";
import { resendVerificationRoute } from "./routes/resend_verification.ts";
import { verifyEmailRoute } from "./routes/verify_email.ts";
import { revokeOtherSessionsRoute } from "./routes/revoke_other_sessions.ts";
import { sessionRoute } from "./routes/session.ts";
import { sessionsRoute } from "./routes/sessions.ts";
import { signInRoute } from "./routes/sign_in.ts";
import { signOutRoute } from "./routes/sign_out.ts";
import { signUpRoute } from "./routes/sign_up.ts";
import { tokenRoute } from "./routes/token.ts";
import {
  authorizationServerMetadataRoute,
  jwksRoute,
  openIdConfigurationRoute,
} from "./routes/well_known.ts";

/** Function `auth`: accounts and sessions (API.md, "Function auth"). */
export const authFunction: FunctionDefinition = {
  name: "auth",
  description: "Sign-up, sign-in and sign-out; the caller's sessions, password and second " +
    "factors (TOTP, passkeys, recovery codes). Sign-in answers a session token (`lks_…`, shown once) and " +
    "sets it as an HttpOnly cookie; for an account with a second factor it answers a " +
    "challenge instead, which the factor routes turn into an `aal2` session. " +
    "`POST /auth/token` turns a session or an API key into a short-lived JWT that Supabase's " +
    "Data API accepts, verifiable with the keys at `/auth/.well-known/jwks.json`; machines " +
    "get the same token by OAuth 2.0's client credentials grant (an API key's id and the key).",
  routes: [
    signUpRoute,
    signInRoute,
    signOutRoute,
    sessionRoute,
    sessionsRoute,
    revokeOtherSessionsRoute,
    changePasswordRoute,
    forgotPasswordRoute,
    resetPasswordRoute,
    verifyEmailRoute,
    resendVerificationRoute,
    factorsRoute,
    enrolTotpFactorRoute,
    passkeyRegistrationOptionsRoute,
    registerPasskeyRoute,
    passkeyAssertionOptionsRoute,
    recoverWithCodeRoute,
    verifyFactorRoute,
    renameFactorRoute,
    removeFactorRoute,
    tokenRoute,
    jwksRoute,
    openIdConfigurationRoute,
    authorizationServerMetadataRoute,
  ],
};

export const app = functionApp(authFunction);
