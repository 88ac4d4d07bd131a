import type { Transaction } from "../_shared/db/database.ts";
import type { AppContext } from "../_shared/http/context.ts";
import type { Role } from "../_shared/ground/principal.ts";

/**
 * Who has a second factor, for the users list and a user's page (issue 28, item 6): support
 * finds the people a phished password alone would open. Read as the caller, so the factors'
 * policy decides (a reader of users sees everyone's); never more than the types.
 */

/** The types of the account's confirmed factors, oldest first: `second_factor_types`. */
export function secondFactorTypesColumn(tx: Transaction) {
  return tx`array(
    select f.type from latchkey.mfa_factors f
    where f.user_id = latchkey.users.id and f.confirmed_at is not null
    order by f.created_at, f.id) as second_factor_types`;
}

/** `?secondFactor=true|false`: an EXISTS on the factors' user_id index. */
export function secondFactorFilter(tx: Transaction, wanted: "true" | "false" | undefined) {
  if (wanted === undefined) return tx``;
  const exists = tx`exists(select 1 from latchkey.mfa_factors f
    where f.user_id = latchkey.users.id and f.confirmed_at is not null)`;
  return wanted === "true" ? tx`and ${exists}` : tx`and not ${exists}`;
}

export interface SecondFactorRow {
  role: string;
  second_factor_types: string[];
}

/**
 * `{count, types, required}`: how many confirmed factors, of which types, and whether the
 * account's role must use one when it signs in (LATCHKEY_MFA_REQUIRED_ROLES).
 */
export function secondFactorsView(c: AppContext, row: SecondFactorRow) {
  const required = c.get("runtime").config.LATCHKEY_MFA_REQUIRED_ROLES as readonly string[];
  return {
    count: row.second_factor_types.length,
    types: [...new Set(row.second_factor_types)],
    required: required.includes(row.role as Role),
  };
}

export const secondFactorsText = "`secondFactors: {count, types, required}` counts the " +
  "account's confirmed second factors (`types`: which kinds, never a secret); `required`: its " +
  "role must verify one at sign-in (LATCHKEY_MFA_REQUIRED_ROLES).";
