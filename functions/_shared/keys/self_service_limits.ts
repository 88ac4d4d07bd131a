import type { z } from "zod";
import type { Config } from "../config/config.ts";
import { ApiError } from "../ground/errors.ts";
import type { createKeyBody, NewKey } from "./key_lifecycle.ts";

export interface SelfServiceLimits {
  maxActiveKeys: number;
  maxRateLimitPerMinute: number;
}

/**
 * What a user may give themselves through POST /keys: a tier's entry in LATCHKEY_TIER_LIMITS,
 * else the global caps, which bind an organization's keys (no tier) too. Without caps one
 * account could make a key allowed a million requests a minute, or any number of keys.
 */
export function selfServiceLimits(config: Config, tier?: string): SelfServiceLimits {
  const forTier = tier !== undefined && Object.hasOwn(config.LATCHKEY_TIER_LIMITS, tier)
    ? config.LATCHKEY_TIER_LIMITS[tier]
    : {};
  return {
    maxActiveKeys: forTier.maxActiveKeys ?? config.LATCHKEY_MAX_ACTIVE_KEYS,
    maxRateLimitPerMinute: forTier.maxRateLimitPerMinute ??
      config.LATCHKEY_MAX_RATE_LIMIT_PER_MINUTE,
  };
}

const defaultRateLimitPerMinute = 60;

/**
 * A self-service key's settings from its request, within the limits: the rate limit defaults to
 * 60 a minute (or the cap, if lower), and one above the cap is a 400.
 */
export function selfServiceKey(
  limits: SelfServiceLimits,
  body: z.output<typeof createKeyBody>,
  scopes: string[],
): NewKey {
  const rateLimitPerMinute = body.rateLimitPerMinute ??
    Math.min(defaultRateLimitPerMinute, limits.maxRateLimitPerMinute);
  if (rateLimitPerMinute > limits.maxRateLimitPerMinute) {
    throw new ApiError("validation_failed", {
      details: [{
        path: "rateLimitPerMinute",
        message: `At most ${limits.maxRateLimitPerMinute} a minute for this key's owner.`,
      }],
    });
  }
  return {
    name: body.name,
    scopes,
    rateLimitPerMinute,
    expiresAt: body.expiresInDays
      ? new Date(Date.now() + body.expiresInDays * 24 * 3600_000)
      : null,
    metadata: body.metadata ?? {},
    allowedNetworks: body.allowedNetworks ?? [],
    allowedOrigins: body.allowedOrigins ?? [],
  };
}
