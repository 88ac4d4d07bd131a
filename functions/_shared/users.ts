import { z } from "zod";
import { isRole, type Role, type UserProfile } from "./principal.ts";
import { passwordLength } from "./passwords.ts";

/** The columns of `latchkey.users` that API responses are built from. */
export interface UserRow {
  id: string;
  name: string;
  email: string;
  role: string;
  tier: string;
  created_at: Date;
}

export function userProfile(row: UserRow): UserProfile {
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    role: (isRole(row.role) ? row.role : "user") as Role,
    tier: row.tier,
    createdAt: row.created_at.toISOString(),
  };
}

export const emailSchema = z.string().trim().max(320).pipe(z.email("Enter a valid email."));

export const passwordSchema = z.string()
  .min(passwordLength.min, `Use at least ${passwordLength.min} characters.`)
  .max(passwordLength.max, `Use at most ${passwordLength.max} characters.`);

export const nameSchema = z.string().trim().min(1, "Enter a name.").max(200);
