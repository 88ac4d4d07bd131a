import type { Config } from "../config/config.ts";
import type { MailMessage } from "./mailer.ts";

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/**
 * A link to the front end's page (LATCHKEY_APP_URL) with the token in the fragment: browsers
 * do not send fragments to servers, so the token stays out of access logs and Referer headers.
 */
export function accountLink(config: Config, page: string, token: string): string {
  return `${config.LATCHKEY_APP_URL.replace(/\/+$/, "")}/${page}#token=${token}`;
}

function message(
  kind: MailMessage["kind"],
  to: string,
  subject: string,
  lines: string[],
  link: string,
): MailMessage {
  const text = [...lines, "", link, ""].join("\n");
  const html = `<!doctype html><html><body>${
    lines.map((line) => `<p>${escapeHtml(line)}</p>`).join("")
  }<p><a href="${escapeHtml(link)}">${escapeHtml(link)}</a></p></body></html>`;
  return { kind, to, subject, text, html };
}

export function emailVerificationMail(config: Config, to: string, token: string): MailMessage {
  return message("email_verification", to, "Confirm your email address", [
    `Confirm that ${to} is your address by opening this link within ` +
    `${config.LATCHKEY_EMAIL_VERIFICATION_TTL_HOURS} hours.`,
    "If you did not create an account, ignore this mail.",
  ], accountLink(config, "verify-email", token));
}

export function passwordResetMail(config: Config, to: string, token: string): MailMessage {
  return message("password_reset", to, "Reset your password", [
    `Someone asked to reset the password of the account for ${to}.`,
    `If it was you, open this link within ${config.LATCHKEY_PASSWORD_RESET_TTL_MINUTES} ` +
    "minutes and choose a new password; it works once, and signs out every session.",
    "If it was not you, ignore this mail: your password stays as it is.",
  ], accountLink(config, "reset-password", token));
}

/** An invitation to an organization; the names are the inviter's and the organization's own. */
export function orgInvitationMail(
  config: Config,
  invitation: { to: string; orgName: string; inviterName: string; role: string },
  token: string,
): MailMessage {
  return message("org_invitation", invitation.to, "An invitation to an organization", [
    `${invitation.inviterName} invited ${invitation.to} to the organization ` +
    `"${invitation.orgName}" as ${invitation.role}.`,
    `To join, sign in (or sign up) with this address, confirm it, and open this link within ` +
    `${config.LATCHKEY_ORG_INVITATION_TTL_HOURS} hours; it works once.`,
    "If you did not expect this, ignore this mail.",
  ], accountLink(config, "accept-invitation", token));
}
