import type { Config } from "../_shared/config/config.ts";

export interface SelfServiceLimits {
  maxActiveKeys: number;
  maxRateLimitPerMinute: number;
}

/**
 * What a user may give themselves through POST /keys: a tier's entry in LATCHKEY_TIER_LIMITS,
 * else the global caps. Without caps one account could make a key allowed a million requests a
 * minute, or any number of keys.
 */
export function selfServiceLimits(config: Config, tier: string): SelfServiceLimits {
  const forTier = Object.hasOwn(config.LATCHKEY_TIER_LIMITS, tier)
    ? config.LATCHKEY_TIER_LIMITS[tier]
    : {};
  return {
    maxActiveKeys: forTier.maxActiveKeys ?? config.LATCHKEY_MAX_ACTIVE_KEYS,
    maxRateLimitPerMinute: forTier.maxRateLimitPerMinute ??
      config.LATCHKEY_MAX_RATE_LIMIT_PER_MINUTE,
  };
}
