import { z } from "zod";
import type { Config } from "../config/config.ts";
import type { UserProfile } from "../ground/principal.ts";
import { passwordLength } from "../passwords/passwords.ts";

/** The columns of `latchkey.users` that API responses are built from. */
export interface UserRow {
  id: string;
  name: string;
  email: string;
  role: string;
  tier: string;
  created_at: Date;
  email_verified_at: Date | null;
}

export function userProfile(row: UserRow): UserProfile {
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    role: row.role,
    tier: row.tier,
    createdAt: row.created_at.toISOString(),
    emailVerifiedAt: row.email_verified_at?.toISOString() ?? null,
  };
}

/**
 * The domain of bootstrap service accounts (`deno task bootstrap -- --service-account <name>`):
 * nobody may take an address there, or the task would find a stranger's account in its way.
 * The database refuses it too (users_service_account_domain_reserved).
 */
export const serviceAccountDomain = "service-accounts.latchkey.invalid";

/** Whether an address is kept from sign-up and from accounts made through the API. */
export function isReservedEmail(config: Config, email: string): boolean {
  const address = email.toLowerCase();
  const bootstrapAdmin = config.LATCHKEY_BOOTSTRAP_ADMIN_EMAIL?.toLowerCase();
  return address === bootstrapAdmin || address.endsWith(`@${serviceAccountDomain}`);
}

// Examples appear in the OpenAPI document, the API reference page and the Postman collection.
export const emailSchema = z.string().trim().max(320).pipe(z.email("Enter a valid email."))
  .meta({ format: "email", examples: ["ada@example.com"] });

export const passwordSchema = z.string()
  .min(passwordLength.min, `Use at least ${passwordLength.min} characters.`)
  .max(passwordLength.max, `Use at most ${passwordLength.max} characters.`)
  .meta({ examples: ["correct horse battery staple"] });

export const nameSchema = z.string().trim().min(1, "Enter a name.").max(200)
  .meta({ examples: ["Ada Lovelace"] });

/** What admin routes show of a user: the profile plus account state. */
export interface AdminUserRow extends UserRow {
  is_service_account: boolean;
  banned_at: Date | null;
  ban_reason: string | null;
  last_sign_in_at: Date | null;
  credits: number | null;
}

export const adminUserColumns = [
  "id",
  "email",
  "name",
  "role",
  "tier",
  "created_at",
  "email_verified_at",
  "is_service_account",
  "banned_at",
  "ban_reason",
  "last_sign_in_at",
  "credits",
];

export function adminUserView(row: AdminUserRow) {
  return {
    ...userProfile(row),
    isServiceAccount: row.is_service_account,
    bannedAt: row.banned_at?.toISOString() ?? null,
    banReason: row.ban_reason,
    lastSignInAt: row.last_sign_in_at?.toISOString() ?? null,
    /** The account's budget of verifications, drawn on by every key; null: none. */
    credits: row.credits,
  };
}
