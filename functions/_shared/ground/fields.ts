import { z } from "zod";
import { base64Decode } from "./crypto.ts";
import { permissionNamePattern, roleNamePattern } from "./principal.ts";

/**
 * Field shapes that the configuration and the domain both read: a tier's name, a key prefix,
 * an argon2id PHC string. They live here, below both, so the configuration imports no domain
 * module (nor, through one, the argon2id WebAssembly and the hash workers).
 */

export const tierSchema = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, "Use a lowercase tier name.")
  .meta({ examples: ["pro"] });

/** A role's name, platform or organization (the database checks the same pattern). */
export const roleNameSchema = z.string().regex(
  roleNamePattern,
  "1 to 32 lowercase letters, digits, _ and -, starting with a letter.",
).meta({ examples: ["billing"] });

/** A permission's name, `resource:action` (latchkey.permissions checks the same pattern). */
export const permissionNameSchema = z.string().regex(
  permissionNamePattern,
  "resource:action, each 1 to 32 lowercase letters, digits, _ and -, starting with a letter.",
).meta({ examples: ["invoices:write"] });

/** A URL as issuers compare it: without trailing slashes. */
export function issuerUrl(url: string): string {
  return url.replace(/\/+$/, "");
}

/** Supabase Auth's issuer on a project: the project URL's `/auth/v1`. */
export function supabaseAuthIssuerOf(supabaseUrl: string): string {
  return `${issuerUrl(supabaseUrl)}/auth/v1`;
}

/** The prefix of an API key (`lk` in `lk_…`). */
export const keyPrefixPattern = /^[a-z][a-z0-9]{0,9}$/;

export interface PhcArgon2id {
  memorySize: number;
  iterations: number;
  parallelism: number;
  salt: Uint8Array;
  hash: Uint8Array;
}

// Bounds on stored parameters, so a hostile hash (say, from configuration) cannot make one
// verification take minutes or gigabytes.
const maxMemoryKiB = 256 * 1024;
const maxIterations = 10;
const maxParallelism = 8;

export function parseArgon2idPhc(phc: string): PhcArgon2id | null {
  const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/
    .exec(phc);
  if (!match) return null;
  const [memorySize, iterations, parallelism] = match.slice(1, 4).map(Number);
  const salt = base64Decode(match[4]);
  const hash = base64Decode(match[5]);
  if (!salt || !hash || salt.length < 8 || hash.length < 16 || hash.length > 64) return null;
  if (memorySize < 8 * parallelism || memorySize > maxMemoryKiB) return null;
  if (iterations < 1 || iterations > maxIterations) return null;
  if (parallelism < 1 || parallelism > maxParallelism) return null;
  return { memorySize, iterations, parallelism, salt, hash };
}
