-- Client allowances (take_client_allowance: a GCRA budget per bucket and subject) were a read
-- and then a write: transactions taking the same budget at once each read it unspent and each
-- spent it, so a burst of concurrent requests passed more than the limit. Forgot-password does
-- its per-address check after answering, so three requests in a row ran it side by side and
-- mailed an address three times against a limit of two. Now the budget's subject is locked for
-- the rest of the transaction before it is read: the next taker waits, then reads what the first
-- spent. Lock keys are per bucket and subject, and every caller takes its buckets in one order.

create or replace function latchkey.take_client_allowance(
  p_bucket text,
  p_client text,
  p_limit integer,
  p_window interval
)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_retry_after integer;
begin
  perform pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtext('latchkey.throttle ' || p_bucket), pg_catalog.hashtext(p_client)
  );
  -- Read after the lock, in a statement of its own: it sees what a taker before us committed.
  v_retry_after := latchkey.throttle_retry_after(p_bucket, p_client, p_limit, p_window);
  if v_retry_after > 0 then
    return v_retry_after;
  end if;
  perform latchkey.throttle_hit(p_bucket, p_client, p_limit, p_window);
  return 0;
end
$$;

-- The leaked-key report's own budget had the same read-then-write: it takes the allowance now.
create or replace function latchkey.revoke_leaked_key(
  p_key_hash bytea,
  p_client text,
  p_limit integer,
  p_window interval,
  p_request jsonb
)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_retry_after integer;
  v_key record;
begin
  -- Checked before this report counts: `p_limit` reports pass, the next waits.
  v_retry_after := latchkey.take_client_allowance('leaked_key', p_client, p_limit, p_window);
  if v_retry_after > 0 then
    return v_retry_after;
  end if;
  update latchkey.api_keys k set revoked_at = pg_catalog.now()
  where k.key_hash = p_key_hash and k.revoked_at is null
  returning k.id, k.user_id into v_key;
  if found then
    perform latchkey.append_audit_event(
      'anonymous', null, null, 'api_key.revoked_as_leaked', 'api_key', v_key.id, p_request,
      pg_catalog.jsonb_build_object('ownerId', v_key.user_id, 'client', p_client)
    );
  end if;
  return 0;
end
$$;
