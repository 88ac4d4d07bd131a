/** A second factor as the API shows it (the account's own routes and the admin twins). */

export interface FactorRow {
  id: string;
  type: string;
  name: string;
  confirmed_at: Date | null;
  created_at: Date;
  last_used_at: Date | null;
}

export const factorColumns = [
  "id",
  "type",
  "name",
  "confirmed_at",
  "created_at",
  "last_used_at",
] as const;

/** A factor as the API shows it: never its secret. */
export function factorView(row: FactorRow) {
  return {
    id: row.id,
    type: row.type,
    name: row.name,
    confirmed: row.confirmed_at !== null,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  };
}
