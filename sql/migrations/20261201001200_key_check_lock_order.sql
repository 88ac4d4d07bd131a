-- Batches of key checks lock their keys' rows in one order, the keys' hashes, whoever sends
-- them. Each isolate (each edge-runtime worker, each process of the local gateway) batches on
-- its own, so two batches can hold the same keys; checked in arrival order, the first to lock
-- key A and the other key B then waited on each other until PostgreSQL's deadlock check (1 s)
-- aborted one (measured: two gateway processes over 64 keys, p99 1.0 s). In one order they
-- only queue. A key's own checks keep their arrival order, so its limits stay exact; each
-- check's answer still carries its place in the batch.
create or replace function latchkey.verify_api_keys(p_checks jsonb)
returns table (
  ordinality bigint,
  code text,
  key_id uuid,
  user_id uuid,
  scopes text[],
  rate_limit integer,
  rate_limit_remaining integer,
  reset_at timestamptz,
  credits_remaining integer,
  metadata jsonb,
  user_email text,
  user_name text,
  user_role text,
  user_tier text,
  user_created_at timestamptz,
  user_email_verified_at timestamptz
)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_check record;
begin
  for v_check in
    select c.n, c.item
    from pg_catalog.jsonb_array_elements(p_checks) with ordinality as c (item, n)
    order by c.item ->> 'hash' collate "C", c.n
  loop
    return query
      select v_check.n, v.*
      from latchkey.verify_api_key(
        pg_catalog.decode(v_check.item ->> 'hash', 'hex'), v_check.item -> 'request'
      ) as v;
  end loop;
end
$$;
revoke all on function latchkey.verify_api_keys(jsonb) from public;
