-- OAuth 2.0 client credentials (issue 31, item 4): `POST /auth/token` with
-- `grant_type=client_credentials` takes an API key's id as client_id and the key as
-- client_secret. A failed client authentication (a secret that is no key, a key presented with
-- another key's id, a revoked or expired key) counts against the network client that sent it,
-- as a wrong X-Admin-Key does (its own bucket), and is audited once per client per minute. The
-- key itself is checked by latchkey.verify_api_key, which audits its own refusals per key.

-- The id presented is kept only when it is one (a uuid): a client that swapped its id and its
-- secret must not leave its key in the audit log.
create or replace function latchkey.record_client_authentication_failure(
  p_client text,
  p_client_id uuid,
  p_reason text,
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
  v_hit record;
begin
  select * into v_hit
  from latchkey.throttle_hit('client_credentials', p_client, p_limit, p_window);
  if v_hit.first_this_minute then
    perform latchkey.append_audit_event(
      'anonymous', null, null, 'auth.client_authentication_failed', null, null, p_request,
      pg_catalog.jsonb_build_object('client', p_client, 'clientId', p_client_id, 'reason', p_reason)
    );
  end if;
  return v_hit.retry_after;
end
$$;

revoke all on function latchkey.record_client_authentication_failure(
  text, uuid, text, integer, interval, jsonb
) from public;
