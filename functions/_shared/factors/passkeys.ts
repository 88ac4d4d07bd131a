import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { z } from "zod";
import { type Config, isLocalEnvironment } from "../config/config.ts";
import { base64Decode, base64UrlEncode, randomBytes, sha256Hex } from "../ground/crypto.ts";
import { ApiError } from "../ground/errors.ts";

/**
 * Passkeys (WebAuthn, issue 28): the relying party this deployment is, the options a browser's
 * `navigator.credentials.create()` and `.get()` take, and the checks of what they answer —
 * origin, relying party id hash, user verification, the challenge, the attestation (fmt none
 * and the others @simplewebauthn/server knows) and the assertion's signature. The challenge is
 * the caller's routes' business (stored, bound to a session, spent once); so is the signature
 * counter, which the database compares atomically (latchkey.accept_passkey_assertion).
 */

/** How long a ceremony's challenge (and the browser's prompt) lasts. */
export const ceremonyTimeoutMs = 5 * 60_000;

/** The relying party: its id (a domain), its name, and the origins whose pages may use it. */
export interface RelyingParty {
  id: string;
  name: string;
  origins: string[];
}

/**
 * From LATCHKEY_WEBAUTHN_RP_ID and _ORIGINS; unset in development and test, the host and origin
 * the request came to. Anywhere else a Host header must not pick the domain passkeys are bound
 * to (a proxy in front would make its own domain ours), so without the variable: 501.
 */
export function relyingParty(config: Config, requestUrl: string): RelyingParty {
  const name = config.LATCHKEY_MFA_ISSUER;
  const id = config.LATCHKEY_WEBAUTHN_RP_ID;
  if (id) return { id, name, origins: config.LATCHKEY_WEBAUTHN_ORIGINS ?? [`https://${id}`] };
  if (!isLocalEnvironment(config)) {
    throw new ApiError("not_configured", {
      message: "Passkeys need LATCHKEY_WEBAUTHN_RP_ID (the domain they are bound to, e.g. " +
        "example.com) and LATCHKEY_WEBAUTHN_ORIGINS (the pages that use them) on this deployment.",
    });
  }
  const url = new URL(requestUrl);
  return { id: url.hostname.replace(/^\[|\]$/g, ""), name, origins: [url.origin] };
}

/** A challenge as it travels (base64url, 32 random bytes) and as it is stored (its SHA-256). */
export function newChallenge(): { challenge: string; hashHex: string } {
  const challenge = base64UrlEncode(randomBytes(32));
  return { challenge, hashHex: challengeHashHex(challenge) };
}

export function challengeHashHex(challenge: string): string {
  return sha256Hex(challenge);
}

const base64url = (max: number) =>
  z.string().min(1).max(max).regex(/^[A-Za-z0-9_-]+={0,2}$/, "expected base64url");

// Transports the browser reports (WebAuthn Level 3); an unknown newer one is kept as a string.
const transports = z.array(z.string().regex(/^[a-z-]{1,32}$/)).max(8);

/** What `PublicKeyCredential.toJSON()` answers to create() (SimpleWebAuthn's startRegistration). */
export const registrationResponseSchema = z.object({
  id: base64url(1400),
  rawId: base64url(1400),
  type: z.literal("public-key"),
  response: z.object({
    clientDataJSON: base64url(4096),
    attestationObject: base64url(16384),
    transports: transports.optional(),
  }),
  authenticatorAttachment: z.enum(["platform", "cross-platform"]).optional(),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
}).meta({ description: "The authenticator's response: `PublicKeyCredential.toJSON()`." });

/** What `PublicKeyCredential.toJSON()` answers to get() (SimpleWebAuthn's startAuthentication). */
export const authenticationResponseSchema = z.object({
  id: base64url(1400),
  rawId: base64url(1400),
  type: z.literal("public-key"),
  response: z.object({
    clientDataJSON: base64url(4096),
    authenticatorData: base64url(4096),
    signature: base64url(2048),
    userHandle: base64url(512).optional(),
  }),
  authenticatorAttachment: z.enum(["platform", "cross-platform"]).optional(),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
}).meta({ description: "The assertion: `PublicKeyCredential.toJSON()` of get()." });

export type RegistrationResponse = z.output<typeof registrationResponseSchema>;
export type AuthenticationResponse = z.output<typeof authenticationResponseSchema>;

/** The challenge a response's clientDataJSON carries (to find the stored one), or null. */
export function challengeOf(clientDataJSON: string): string | null {
  const bytes = base64Decode(clientDataJSON);
  if (!bytes) return null;
  try {
    const clientData = JSON.parse(new TextDecoder().decode(bytes));
    return typeof clientData?.challenge === "string" && clientData.challenge.length <= 512
      ? clientData.challenge
      : null;
  } catch {
    return null;
  }
}

export interface StoredPasskey {
  credentialId: Uint8Array;
  transports: string[] | null;
}

type Transport = NonNullable<
  Parameters<typeof generateRegistrationOptions>[0]["excludeCredentials"]
>[number]["transports"];

function descriptor(passkey: StoredPasskey) {
  return {
    id: base64UrlEncode(passkey.credentialId),
    transports: (passkey.transports ?? undefined) as Transport,
  };
}

/**
 * Creation options: user verification required, a discoverable credential preferred, the
 * account's passkeys excluded (one authenticator, one passkey), no attestation asked for.
 */
export function registrationOptions(
  rp: RelyingParty,
  user: { id: string; email: string; name: string },
  challenge: string,
  existing: StoredPasskey[],
) {
  return generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userID: new TextEncoder().encode(user.id),
    userName: user.email,
    userDisplayName: user.name,
    challenge: base64Decode(challenge)!.slice(),
    timeout: ceremonyTimeoutMs,
    attestationType: "none",
    excludeCredentials: existing.map(descriptor),
    authenticatorSelection: { residentKey: "preferred", userVerification: "required" },
  });
}

/** Request options for the given passkeys of the account, user verification required. */
export function authenticationOptions(
  rp: RelyingParty,
  challenge: string,
  allowed: StoredPasskey[],
) {
  return generateAuthenticationOptions({
    rpID: rp.id,
    challenge: base64Decode(challenge)!.slice(),
    timeout: ceremonyTimeoutMs,
    allowCredentials: allowed.map(descriptor),
    userVerification: "required",
  });
}

/** A refused response: `reason` for the audit log, `message` for the client. */
export interface Refusal {
  ok: false;
  reason: string;
  message: string;
}

/** The library throws on each failed check; its message says which (for the audit log). */
function refusalOf(error: unknown): Refusal {
  const text = error instanceof Error ? error.message : String(error);
  const reason = /origin/i.test(text)
    ? "origin"
    : /RP ID|rpID/i.test(text)
    ? "rp_id"
    : /user verification|could not be verified/i.test(text)
    ? "user_verification"
    : /user presen|not present/i.test(text)
    ? "user_presence"
    : /challenge/i.test(text)
    ? "challenge"
    : /signature/i.test(text)
    ? "signature"
    : "malformed";
  return { ok: false, reason, message: refusalMessages[reason] ?? refusalMessages.malformed };
}

const refusalMessages: Record<string, string> = {
  origin: "This passkey answered for another site.",
  rp_id: "This passkey belongs to another site.",
  user_verification: "The authenticator did not verify you (PIN, fingerprint or face); " +
    "passkeys here need it.",
  user_presence: "The authenticator did not confirm your presence.",
  challenge: "This answer is not to the challenge asked; ask for new options.",
  signature: "This passkey's signature is not right.",
  malformed: "This is not a passkey's answer we can read.",
};

export interface NewPasskey {
  ok: true;
  credentialId: Uint8Array;
  publicKey: Uint8Array;
  signCount: number;
  aaguid: string;
  backupEligible: boolean;
  backedUp: boolean;
}

/** Checks a registration against the stored challenge; what to keep, or why not. */
export async function checkRegistration(
  rp: RelyingParty,
  response: RegistrationResponse,
  challenge: string,
): Promise<NewPasskey | Refusal> {
  try {
    const verified = await verifyRegistrationResponse({
      // The schema checked the shape; the library checks every byte.
      response: response as Parameters<typeof verifyRegistrationResponse>[0]["response"],
      expectedChallenge: challenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.id,
      requireUserPresence: true,
      requireUserVerification: true,
    });
    if (!verified.verified) return refusalOf("signature");
    const info = verified.registrationInfo;
    return {
      ok: true,
      credentialId: base64Decode(info.credential.id)!,
      publicKey: info.credential.publicKey,
      signCount: info.credential.counter,
      aaguid: info.aaguid,
      backupEligible: info.credentialDeviceType === "multiDevice",
      backedUp: info.credentialBackedUp,
    };
  } catch (error) {
    return refusalOf(error);
  }
}

export interface CheckedAssertion {
  ok: true;
  signCount: number;
  backedUp: boolean;
}

/**
 * Checks an assertion by this passkey against the stored challenge. The counter is not compared
 * here (the library is told 0): the database compares it with the stored one under a row lock,
 * so two racing copies of one assertion cannot both pass.
 */
export async function checkAssertion(
  rp: RelyingParty,
  response: AuthenticationResponse,
  challenge: string,
  passkey: { credentialId: Uint8Array; publicKey: Uint8Array; transports: string[] | null },
): Promise<CheckedAssertion | Refusal> {
  try {
    const verified = await verifyAuthenticationResponse({
      response: response as Parameters<typeof verifyAuthenticationResponse>[0]["response"],
      expectedChallenge: challenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.id,
      requireUserVerification: true,
      credential: {
        id: base64UrlEncode(passkey.credentialId),
        publicKey: passkey.publicKey.slice(),
        counter: 0,
        transports: (passkey.transports ?? undefined) as Transport,
      },
    });
    if (!verified.verified) return refusalOf("signature");
    return {
      ok: true,
      signCount: verified.authenticationInfo.newCounter,
      backedUp: verified.authenticationInfo.credentialBackedUp,
    };
  } catch (error) {
    return refusalOf(error);
  }
}
