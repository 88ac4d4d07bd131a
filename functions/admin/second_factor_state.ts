import type postgres from "postgres";
import type { Transaction } from "../_shared/db/database.ts";
import type { AppContext } from "../_shared/http/context.ts";
import { roleNeedsSecondFactor } from "../_shared/ground/principal.ts";

/**
 * Who has a second factor, for the users list and a user's page (issue 28, item 6): support
 * finds the people a phished password alone would open. Read as the caller, so the factors'
 * policy decides (a reader of users sees everyone's); never more than the types. With
 * LATCHKEY_IDENTITY=supabase the factors Supabase Auth verified (auth.mfa_factors) count too,
 * named `supabase:<type>`, read by `latchkey.supabase_second_factors`, which answers under the
 * same rule, once for a whole page.
 */

/** Whether Supabase Auth's factors count: LATCHKEY_IDENTITY=supabase. */
export function countsSupabaseFactors(c: AppContext): boolean {
  return c.get("runtime").config.LATCHKEY_IDENTITY === "supabase";
}

/**
 * The types of the account's confirmed Latchkey factors, oldest first: `second_factor_types`,
 * or `own_second_factor_types` under `withSupabaseFactorTypes` (`supabase`); and its role's
 * permissions (`role_permissions`), on which the requirement of a factor depends.
 */
export function secondFactorTypesColumn(tx: Transaction, supabase = false) {
  return tx`array(
    select f.type from latchkey.mfa_factors f
    where f.user_id = latchkey.users.id and f.confirmed_at is not null
    order by f.created_at, f.id) as ${tx(supabase ? ownTypes : "second_factor_types")},
    latchkey.role_permission_names(latchkey.users.role) as role_permissions`;
}

const ownTypes = "own_second_factor_types";

/**
 * `rows` (a query whose rows have `id` and `secondFactorTypesColumn(tx, true)`) with
 * `second_factor_types`: Latchkey's own, then those of the Supabase Auth factors, in one
 * statement: the rows are read first, then `latchkey.supabase_second_factors` is asked once for
 * all of their ids. `order` restates the rows' order over `page`.
 */
export function withSupabaseFactorTypes(
  tx: Transaction,
  // deno-lint-ignore no-explicit-any -- any query whose rows have id and second_factor_types
  rows: postgres.PendingQuery<any>,
  order: postgres.PendingQuery<postgres.Row[]> = tx``,
) {
  return tx`with page as materialized (${rows})
    select page.*,
      ${tx("page." + ownTypes)} || coalesce(supabase.types, '{}') as second_factor_types
    from page
    left join latchkey.supabase_second_factors(array(select page.id from page)) supabase
      on supabase.user_id = page.id
    ${order}`;
}

/**
 * `?secondFactor=true|false`: an EXISTS on the factors' user_id index. With Supabase Auth's
 * factors (`supabase`) the list takes its ids from `latchkey.matching_user_ids`, which applies
 * the filter inside its one statement; this form serves only a lookup by exact email there.
 */
export function secondFactorFilter(
  tx: Transaction,
  wanted: "true" | "false" | undefined,
  supabase = false,
) {
  if (wanted === undefined) return tx``;
  const own = tx`exists(select 1 from latchkey.mfa_factors f
    where f.user_id = latchkey.users.id and f.confirmed_at is not null)`;
  const exists = supabase
    ? tx`(${own} or exists(
      select 1 from latchkey.supabase_second_factors(array[latchkey.users.id])))`
    : own;
  return wanted === "true" ? tx`and ${exists}` : tx`and not ${exists}`;
}

export interface SecondFactorRow {
  role: string;
  second_factor_types: string[];
  role_permissions: string[];
}

/**
 * `{count, types, required}`: how many confirmed factors, of which types, and whether the
 * account's role must use one when it signs in (LATCHKEY_MFA_REQUIRED_ROLES, and custom roles
 * holding a Latchkey permission).
 */
export function secondFactorsView(c: AppContext, row: SecondFactorRow) {
  const required = c.get("runtime").config.LATCHKEY_MFA_REQUIRED_ROLES;
  return {
    count: row.second_factor_types.length,
    types: [...new Set(row.second_factor_types)],
    required: roleNeedsSecondFactor(row.role, row.role_permissions, required),
  };
}

export const secondFactorsText = "`secondFactors: {count, types, required}` counts the " +
  "account's confirmed second factors (`types`: which kinds, never a secret; with " +
  "LATCHKEY_IDENTITY=supabase also those verified in Supabase Auth, as `supabase:totp`, " +
  "`supabase:phone`, `supabase:webauthn`); `required`: its role must verify one at sign-in " +
  "(LATCHKEY_MFA_REQUIRED_ROLES, and any custom role holding one of Latchkey's permissions).";
