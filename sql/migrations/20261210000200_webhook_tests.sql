-- Webhook test messages (issue 30, item 4): POST /admin/webhooks/:id/test queues a
-- `webhook.test` message to one endpoint, whatever it subscribes to, through the same outbox,
-- leases, backoff and signing as every other message. Its `data` is the audit event that
-- records the request (`webhook.test_sent`), as GET /admin/audit shows it, so a receiver sees
-- the real shape of a message. A caller may not write the outbox; this function does it for a
-- caller holding webhooks:write.
create or replace function latchkey.queue_webhook_test(p_endpoint_id uuid)
returns table (delivery_id uuid, event_id uuid, enabled boolean)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_enabled boolean;
  v_event_id uuid;
  v_event latchkey.audit_events;
  v_delivery_id uuid;
begin
  if not latchkey.caller_has_permission('webhooks:write') then
    raise exception 'testing a webhook needs webhooks:write' using errcode = '42501';
  end if;
  select e.enabled into v_enabled from latchkey.webhook_endpoints e
  where e.id = p_endpoint_id
  for share;
  if not found then
    return;
  end if;
  -- Disabled, nothing would be sent (a claim passes it by): the route says so instead.
  if not v_enabled then
    return query select null::uuid, null::uuid, false;
    return;
  end if;
  v_event_id := latchkey.record_audit_event('webhook.test_sent', 'webhook_endpoint',
    p_endpoint_id, '{}'::jsonb);
  select * into strict v_event from latchkey.audit_events a where a.id = v_event_id;
  insert into latchkey.webhook_deliveries (endpoint_id, event_id, event_type, payload)
  values (p_endpoint_id, v_event.id, 'webhook.test',
    latchkey.webhook_message(v_event) || pg_catalog.jsonb_build_object('type', 'webhook.test'))
  returning id into v_delivery_id;
  return query select v_delivery_id, v_event_id, true;
end
$$;
revoke all on function latchkey.queue_webhook_test(uuid) from public;
grant execute on function latchkey.queue_webhook_test(uuid) to latchkey_caller;
