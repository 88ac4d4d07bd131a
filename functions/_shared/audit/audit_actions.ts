/**
 * Every action an audit event may record, with what it means: what the console's action
 * filter suggests and GET /admin/audit/actions lists. A unit test reads the SQL and the
 * functions for the actions they record, so an action added there and not here fails it.
 */
export const auditActions: Readonly<Record<string, string>> = {
  "admin.factors_reset":
    "An admin removed every second factor and recovery code of an account (its sessions were " +
    "revoked).",
  "admin.key_created": "An admin made an API key for a user.",
  "admin.key_revoked": "An admin revoked a user's API key.",
  "admin.key_rotated": "An admin rotated a user's API key.",
  "admin.key_updated": "An admin changed a key's name, state, limits (rate, network) or credits.",
  "admin.org_updated":
    "An admin suspended or unsuspended an organization, or set what its keys may hold (the " +
    "state before and after, as a ban).",
  "admin.password_set": "An admin set a user's password (their sessions were revoked).",
  "admin.sessions_revoked": "An admin revoked every session of a user.",
  "admin.user_created": "An admin made an account.",
  "admin.user_deleted": "An admin deleted an account.",
  "admin.user_updated": "An admin changed an account: name, tier, role, or a ban or unban.",
  "admin_key.rejected": "A wrong X-Admin-Key was sent.",
  "admin_key.used": "The static X-Admin-Key was used.",
  "api_key.created": "A user made an API key of their own.",
  "api_key.rate_limited": "A key was refused for its rate limit.",
  "api_key.rejected":
    "A key was refused: revoked, expired, disabled, out of credits, its owner banned or its " +
    "organization suspended.",
  "api_key.network_refused":
    "A key was used from a network or origin its limits do not allow, or without the address " +
    "or Origin they need (the reason, address and origin are in the metadata); audited once " +
    "per key per minute.",
  "api_key.revoked": "A user revoked an API key of their own.",
  "api_key.revoked_as_leaked": "A leaked key was reported and revoked.",
  "api_key.rotated": "A user rotated an API key of their own.",
  "api_key.updated": "A user changed an API key of their own.",
  "audit.exported": "The audit log of a time range was exported.",
  "audit.pruned": "Events past their retention were deleted.",
  "auth.client_authentication_failed":
    "An OAuth client_credentials token request's client authentication failed (a secret that " +
    "is no key, a key sent with another key's id, a revoked or expired key; the reason is in " +
    "the metadata); audited once per client per minute.",
  "auth.email_verified": "A user proved their email address.",
  "auth.factor_confirmed": "A user's first right code confirmed a second factor.",
  "auth.factor_enrolled": "A user enrolled a second factor (unconfirmed until a first code).",
  "auth.factor_removed": "A user removed a second factor.",
  "auth.factor_renamed": "A user renamed a second factor.",
  "auth.factor_verified": "A user's second-factor code or passkey assertion was accepted.",
  "auth.factor_verify_failed":
    "A second-factor code or passkey assertion was refused (wrong, a replay, a cloned " +
    "authenticator's counter; the reason is in the metadata).",
  "auth.other_sessions_revoked": "A user signed out everywhere else.",
  "auth.password_change_failed": "A password change was refused: the current one was wrong.",
  "auth.password_changed": "A user changed their password.",
  "auth.password_reset": "A password was reset with a mailed link.",
  "auth.password_reset_requested": "A reset link was asked for.",
  "auth.passkey_registered": "A user registered a passkey (confirmed by its registration).",
  "auth.passkey_registration_failed":
    "A passkey registration was refused (the reason is in the metadata).",
  "auth.recovery_code_used": "A user spent a recovery code.",
  "auth.session_assurance_raised": "A second factor raised a user's session to aal2.",
  "auth.sign_in": "A user signed in (after a second factor when the account has one).",
  "auth.sign_in_challenged": "A right password met a second factor: a challenge, no session yet.",
  "auth.sign_in_failed": "A sign-in was refused (the reason is in the metadata).",
  "auth.sign_out": "A user signed out.",
  "auth.sign_up": "A new account signed up.",
  "bootstrap.admin_created": "The configured first admin was made.",
  "bootstrap.admin_promoted": "An existing account became the configured first admin.",
  "bootstrap.service_account_created": "`deno task bootstrap` made a service account.",
  "bootstrap.service_key_created": "`deno task bootstrap` made a service account's key.",
  "bootstrap.user_promoted": "`deno task promote` changed a user's role.",
  "mail.delivery_failed": "An email could not be delivered.",
  "mail.notifications_capped":
    "An account reached LATCHKEY_NOTIFY_MAX_PER_HOUR notification mails of one kind this hour: " +
    "the rest of the hour's of that kind are counted, not sent (audited once an hour, as the " +
    "event that went over; the kind and the limit are in the metadata).",
  "org.created": "A user made an organization (and became its owner).",
  "org.deleted":
    "An owner deleted an organization (its memberships, invitations and keys went too).",
  "org.invitation_refused":
    "An invitation's token was refused to the session that sent it: another address, an " +
    "unverified one, or a suspended organization (the reason is in the metadata).",
  "org.invitation_revoked": "A member revoked an open invitation: its link stops working.",
  "org.key_created":
    "A member (keys:write) made an API key the organization owns (each org.key_* event names " +
    "the organization in `orgId`).",
  "org.key_revoked": "A member (keys:write) revoked one of the organization's API keys.",
  "org.key_rotated": "A member (keys:write) rotated one of the organization's API keys.",
  "org.key_updated":
    "A member (keys:write) renamed, disabled or enabled an organization's key, or set its " +
    "metadata.",
  "org.member_added": "An invited person accepted and became a member.",
  "org.member_invited": "A member invited an address to an organization, with a role.",
  "org.member_left": "A member left an organization.",
  "org.member_removed": "A member removed another member.",
  "org.member_role_changed": "A member changed another member's (or their own) role.",
  "org.ownership_transferred": "An owner handed ownership to another member and became admin.",
  "org.updated": "A member renamed an organization or changed its slug.",
  "org_role.created": "An admin made a custom organization role with its organization permissions.",
  "org_role.deleted": "An admin deleted a custom organization role nobody held.",
  "org_role.updated":
    "An admin changed an organization role: its description, or the permissions added and " +
    "taken away.",
  "permission.created": "An admin added one of the team's permissions to the catalogue.",
  "permission.deleted": "An admin deleted one of the team's permissions nobody held.",
  "permission.updated": "An admin described one of the team's permissions anew.",
  "role.created": "An admin made a platform role with its permissions.",
  "role.deleted": "An admin deleted a platform role nobody held.",
  "role.updated":
    "An admin changed a platform role: its description, or the permissions added and taken " +
    "away (its holders have the new set from their next request).",
  "webhook.backlog_dropped":
    "A webhook endpoint's undelivered backlog went over LATCHKEY_WEBHOOK_BACKLOG_LIMIT and its " +
    "oldest messages were dropped (how many; once a minute per endpoint at most, the drops " +
    "since the previous event in droppedSincePreviousEvent).",
  "webhook.created": "An admin registered a webhook endpoint (its secret is never recorded).",
  "webhook.deleted": "An admin deleted a webhook endpoint and its queued messages.",
  "webhook.delivery_retried": "An admin asked for a webhook message to be delivered again.",
  "webhook.secret_rotated":
    "An admin rotated a webhook endpoint's signing secret (the old one may sign beside the new " +
    "one for an overlap).",
  "webhook.test_sent":
    "An admin sent a webhook endpoint a test message (type webhook.test, with this event as " +
    "its data).",
  "webhook.updated": "An admin changed a webhook endpoint: its URL, events, description or state.",
  "user.created_from_supabase_auth": "An account was made for a Supabase Auth user.",
  "user.deleted_with_auth_user": "An account went with its Supabase Auth user.",
  "user.email_followed_supabase_auth": "An account's email followed Supabase Auth's.",
};
