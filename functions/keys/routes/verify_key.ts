import { z } from "zod";
import {
  apiKeyCodes,
  authenticateApiKey,
  rateLimitHeaders,
} from "../../_shared/identity/api_key_check.ts";
import { ApiError, errorEnvelope } from "../../_shared/ground/errors.ts";
import { requestInfo } from "../../_shared/http/request.ts";
import { defineRoute } from "../../_shared/api/routes.ts";
import { keyRefusals } from "../../_shared/identity/authenticate.ts";
import {
  canonicalIpAddress,
  keyUseFrom,
  networkRefusalMessage,
} from "../../_shared/keys/network_limits.ts";

export const verifyBody = z.strictObject({
  key: z.string().max(512, "An API key is at most 512 characters.")
    .meta({ examples: ["lk_<the key shown once at creation>"] }),
  scope: z.string().min(1).max(64).optional().meta({ examples: ["compile"] }),
  clientAddress: z.string().max(64).refine(
    (text) => canonicalIpAddress(text) !== null,
    "Not an IP address: send the client's address (IPv4 or IPv6) as your server saw it.",
  ).optional().meta({
    description: "The address of the client that presented the key, as your server saw it: " +
      "checked against the key's allowedNetworks. A key with networks is refused without it.",
    examples: ["203.0.113.7"],
  }),
  origin: z.string().max(300).optional().meta({
    description: "The Origin header the client's request carried, as it was: checked against " +
      "the key's allowedOrigins. A key with origins is refused without it.",
    examples: ["https://app.example.com"],
  }),
});

/** Every `code` verify answers: the key check's, and a key lacking the `scope` asked about. */
const verifyCodes = [...apiKeyCodes, "INSUFFICIENT_SCOPE"] as const;
type VerifyCode = typeof verifyCodes[number];

/** What verify answers (200), for the document and the clients generated from it. */
export const verifyAnswer = z.object({
  valid: z.boolean(),
  code: z.string().meta({
    description: `${verifyCodes.slice(0, -1).join(", ")} or ${verifyCodes.at(-1)}.`,
    examples: ["VALID"],
  }),
  keyId: z.uuid().nullable(),
  userId: z.uuid().nullable().meta({
    description: "The key's user; null for an organization's key, which belongs to no user.",
  }),
  scopes: z.array(z.string()),
  rateLimit: z.object({ limit: z.int(), remaining: z.int(), resetAt: z.iso.datetime() })
    .nullable(),
  remaining: z.int().nullable(),
  metadata: z.record(z.string(), z.unknown()).nullable(),
  orgId: z.uuid().nullable().meta({
    description: "The organization that owns the key; null for a user's key.",
  }),
  cacheSeconds: z.int().min(1).max(300).nullable().meta({
    description: "How long a verifier may reuse this VALID answer without asking again: set " +
      "only for a key with no rate limit and no credits that its owner, an admin or the " +
      "deployment (LATCHKEY_KEY_CACHE_SECONDS) made cacheable, and never past its expiry. A " +
      "change to the key (revoked, disabled, its owner banned, its organization suspended, " +
      "rotated) reaches such a verifier within this time. Null: ask every time.",
    examples: [null],
  }),
  message: z.string().nullable().meta({
    description: "Why the key was refused, for a person (NETWORK_NOT_ALLOWED: what was refused, " +
      "or which field to send); null when VALID.",
  }),
});

/**
 * The key is the credential. Every outcome is a 200 with `valid` and a code, except a used-up
 * rate limit: that is a 429 whose body carries the same fields plus the error envelope.
 */
export const verifyKeyRoute = defineRoute({
  method: "post",
  path: "/verify",
  summary: "Check a key (the key is the credential)",
  auth: [],
  body: verifyBody,
  answer: verifyAnswer,
  responses: {
    200: "`{valid, code, keyId, userId, orgId, scopes, rateLimit, remaining, metadata, " +
      "cacheSeconds, message}`: `code` is one of " + verifyCodes.join(", ") +
      " (ORG_SUSPENDED: the key's " +
      "organization is suspended; NETWORK_NOT_ALLOWED: `clientAddress` or `origin` is not one " +
      "the key allows, or missing where the key has such a limit; nothing is metered or " +
      "charged); `userId` is the key's user and `orgId` its organization (one of them is null: " +
      "an organization's key belongs to no user); `scopes` are the key's scopes as they count " +
      "now (within its owner's role, or its organization's ceiling); `remaining` is the " +
      "credits left (null without a usage limit), `metadata` the key's (VALID only), " +
      "`cacheSeconds` how long the answer may be reused (VALID only; null: not at all).",
    429: "The key's rate limit is used up (body has the verify fields and the error).",
  },
}, async (c, { body: request }) => {
  const { key, scope } = request;
  // The client's address and origin are the team's server's word: verify says whether the key
  // may be used there, and only Latchkey's own routes check where their requests come from.
  const use = keyUseFrom(request);
  const outcome = await authenticateApiKey(c.get("runtime"), key, requestInfo(c), use);
  const scopes = outcome.principal?.apiKey?.scopes ?? [];
  const code: VerifyCode = outcome.code === "VALID" && scope && !scopes.includes(scope)
    ? "INSUFFICIENT_SCOPE"
    : outcome.code;
  const body = {
    valid: code === "VALID",
    code,
    keyId: outcome.keyId,
    userId: outcome.userId,
    orgId: outcome.orgId,
    scopes,
    rateLimit: outcome.rateLimit,
    remaining: outcome.remaining,
    metadata: code === "VALID" ? outcome.metadata : null,
    cacheSeconds: code === "VALID" ? outcome.cacheSeconds : null,
    message: code === "VALID"
      ? null
      : code === "INSUFFICIENT_SCOPE"
      ? `The key does not hold the scope ${scope}.`
      : code === "NETWORK_NOT_ALLOWED"
      ? networkRefusalMessage(outcome.networkRefusal, use, "verify")
      : keyRefusals[code].message,
  };
  const headers = outcome.rateLimit ? rateLimitHeaders(outcome.rateLimit) : {};
  if (code === "RATE_LIMITED") {
    const error = new ApiError("rate_limited");
    return c.json({ ...body, ...errorEnvelope(error, c.get("requestId")) }, 429, headers);
  }
  return c.json(body, 200, headers);
});
