-- Leaked-key revocation: whoever holds a key may kill it (as GitHub's credential-revocation
-- API lets a finder do), with no credential but the key itself. One answer for a live, dead
-- or unknown key; throttled per client; a revocation is audited with the client's address.

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
  v_retry_after := latchkey.throttle_retry_after('leaked_key', p_client, p_limit, p_window);
  if v_retry_after > 0 then
    return v_retry_after;
  end if;
  perform latchkey.throttle_hit('leaked_key', p_client, p_limit, p_window);
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
revoke all on function latchkey.revoke_leaked_key(bytea, text, integer, interval, jsonb)
  from public;
