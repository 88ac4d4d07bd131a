-- What `supabase db advisors` (the dashboard's Advisor) still reported on our objects once the
-- policies were one per role and action: two INFO findings, fixed here so the Advisor of a
-- project running Latchkey lists nothing of ours.

-- 0004_no_primary_key: rows of a table without one cannot be told apart by replication or by
-- a bulk delete; the throttle never needed one, but nothing is lost by having it.
alter table latchkey.sign_in_failures
  add column if not exists id bigint generated always as identity primary key;

-- 0001_unindexed_foreign_keys: a permission removed by a migration would scan role_permissions.
create index if not exists role_permissions_permission_idx
  on latchkey.role_permissions (permission);
