-- GET /admin/keys?unusedForDays=N: active keys whose last use (or creation, never used) is
-- older than N days. In a busy deployment almost every key was used lately, and the filter
-- walked the whole newest-first index to fill a page with the few stale ones.
--
-- As with users.email_lower: under RLS a filter drives an index only when all it applies to a
-- column is leakproof, and coalesce() over two columns does not qualify, so the keys' last
-- activity is a stored column, compared with a plain `<`. With its index the planner finds a
-- busy deployment's few stale keys directly, and still walks the newest-first index where most
-- keys are stale and a page fills at once: the column's statistics tell it which. A key's last
-- use is written at most once a minute, so the index costs the hot path little. Adding the
-- column rewrites the table once (seconds at a million keys).
alter table latchkey.api_keys
  add column if not exists last_active_at timestamptz
    generated always as (coalesce(last_used_at, created_at)) stored;
create index if not exists api_keys_last_active_at_idx on latchkey.api_keys (last_active_at);
grant select (last_active_at) on latchkey.api_keys to latchkey_caller;
