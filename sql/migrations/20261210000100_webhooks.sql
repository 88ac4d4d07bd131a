-- Webhooks (issue 30): endpoints that hear audit events as Standard Webhooks messages. An event
-- an enabled endpoint subscribes to is queued in `webhook_deliveries` by a trigger on
-- `audit_events`, so in the very transaction that wrote it (a rolled-back change queues nothing,
-- a committed one is never lost); the functions deliver after their answers, leased and with
-- backoff. Signing secrets are stored encrypted (AES-256-GCM, LATCHKEY_MFA_ENCRYPTION_KEY) and
-- never granted to a caller: only the claim below hands them out, to the functions' own login.

insert into latchkey.permissions (name, description) values
  ('webhooks:read', 'List webhook endpoints and their deliveries'),
  ('webhooks:write', 'Register, change, delete webhook endpoints; rotate secrets; re-deliver')
on conflict (name) do update set description = excluded.description;
insert into latchkey.role_permissions (role, permission) values
  ('admin', 'webhooks:read'), ('admin', 'webhooks:write')
on conflict do nothing;

create table if not exists latchkey.webhook_endpoints (
  id uuid primary key,
  url text not null check (length(url) between 8 and 2048),
  -- Audit actions by name, `<prefix>.*`, or `*` (checked against the catalogue by the route).
  events text[] not null check (cardinality(events) between 1 and 100),
  description text not null default '' check (length(description) <= 500),
  enabled boolean not null default true,
  secret_ciphertext bytea not null,
  -- After a rotation with an overlap: the old secret, which still signs until it expires.
  previous_secret_ciphertext bytea,
  previous_secret_expires_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index if not exists webhook_endpoints_created_at_id_idx
  on latchkey.webhook_endpoints (created_at, id);
alter table latchkey.webhook_endpoints enable row level security;
alter table latchkey.webhook_endpoints force row level security;
revoke all on latchkey.webhook_endpoints from public, anon, authenticated, service_role;
-- No secret column is readable by a caller: a secret is shown once, when it is made.
grant select (id, url, events, description, enabled, previous_secret_expires_at, created_at,
  updated_at) on latchkey.webhook_endpoints to latchkey_caller;
grant insert (id, url, events, description, enabled, secret_ciphertext)
  on latchkey.webhook_endpoints to latchkey_caller;
grant update (url, events, description, enabled, updated_at)
  on latchkey.webhook_endpoints to latchkey_caller;
grant delete on latchkey.webhook_endpoints to latchkey_caller;

drop policy if exists "Webhook readers and writers read endpoints" on latchkey.webhook_endpoints;
create policy "Webhook readers and writers read endpoints" on latchkey.webhook_endpoints
  for select to latchkey_caller
  using ((select latchkey.caller_has_permission('webhooks:read'))
    or (select latchkey.caller_has_permission('webhooks:write')));
drop policy if exists "Webhook writers register endpoints" on latchkey.webhook_endpoints;
create policy "Webhook writers register endpoints" on latchkey.webhook_endpoints
  for insert to latchkey_caller
  with check ((select latchkey.caller_has_permission('webhooks:write')));
drop policy if exists "Webhook writers change endpoints" on latchkey.webhook_endpoints;
create policy "Webhook writers change endpoints" on latchkey.webhook_endpoints
  for update to latchkey_caller
  using ((select latchkey.caller_has_permission('webhooks:write')))
  with check ((select latchkey.caller_has_permission('webhooks:write')));
drop policy if exists "Webhook writers delete endpoints" on latchkey.webhook_endpoints;
create policy "Webhook writers delete endpoints" on latchkey.webhook_endpoints
  for delete to latchkey_caller
  using ((select latchkey.caller_has_permission('webhooks:write')));
drop policy if exists "Latchkey's own functions deliver to endpoints"
  on latchkey.webhook_endpoints;
create policy "Latchkey's own functions deliver to endpoints" on latchkey.webhook_endpoints
  to current_user using (true) with check (true);

-- An endpoint is a standing export of the audit log: pointing one somewhere, choosing what it
-- hears or switching it back on is as dangerous as an export, and needs the same step-up.
create or replace function latchkey.guard_webhook_step_up()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' or new.url is distinct from old.url
    or new.events is distinct from old.events or (new.enabled and not old.enabled) then
    perform latchkey.require_step_up('Sending audit events to a webhook');
  end if;
  return new;
end
$$;
revoke all on function latchkey.guard_webhook_step_up() from public;
drop trigger if exists guard_webhook_step_up on latchkey.webhook_endpoints;
create trigger guard_webhook_step_up
  before insert or update of url, events, enabled on latchkey.webhook_endpoints
  for each row execute function latchkey.guard_webhook_step_up();

-- The outbox: one row per event and endpoint. `id` is the message's webhook-id, the same on
-- every attempt. A claim leases a row (`leased_until`) so no two isolates send it at once, and
-- moves `next_attempt_at` by the backoff, so a failure is retried then.
create table if not exists latchkey.webhook_deliveries (
  id uuid primary key default gen_random_uuid(),
  endpoint_id uuid not null references latchkey.webhook_endpoints (id) on delete cascade,
  event_id uuid not null,
  event_type text not null,
  -- The message body, {type, timestamp, data}, as it was when the event was written.
  payload jsonb not null,
  created_at timestamptz not null default now(),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  leased_until timestamptz,
  last_attempt_at timestamptz,
  last_status integer,
  last_error text,
  last_latency_ms integer,
  delivered_at timestamptz,
  failed_at timestamptz
);
create index if not exists webhook_deliveries_due_idx
  on latchkey.webhook_deliveries (endpoint_id, next_attempt_at)
  where delivered_at is null and failed_at is null;
create index if not exists webhook_deliveries_endpoint_created_at_id_idx
  on latchkey.webhook_deliveries (endpoint_id, created_at, id);
alter table latchkey.webhook_deliveries enable row level security;
alter table latchkey.webhook_deliveries force row level security;
revoke all on latchkey.webhook_deliveries from public, anon, authenticated, service_role;
-- Not the payload: it is audit data, for audit:read (GET /admin/audit), not webhooks:read.
grant select (id, endpoint_id, event_id, event_type, created_at, attempts, next_attempt_at,
  last_attempt_at, last_status, last_error, last_latency_ms, delivered_at, failed_at)
  on latchkey.webhook_deliveries to latchkey_caller;
-- A re-delivery: due now, a fresh budget of attempts.
grant update (attempts, next_attempt_at, delivered_at, failed_at)
  on latchkey.webhook_deliveries to latchkey_caller;

drop policy if exists "Webhook readers and writers read deliveries" on latchkey.webhook_deliveries;
create policy "Webhook readers and writers read deliveries" on latchkey.webhook_deliveries
  for select to latchkey_caller
  using ((select latchkey.caller_has_permission('webhooks:read'))
    or (select latchkey.caller_has_permission('webhooks:write')));
drop policy if exists "Webhook writers re-deliver" on latchkey.webhook_deliveries;
create policy "Webhook writers re-deliver" on latchkey.webhook_deliveries
  for update to latchkey_caller
  using ((select latchkey.caller_has_permission('webhooks:write')))
  with check ((select latchkey.caller_has_permission('webhooks:write')));
drop policy if exists "Latchkey's own functions queue and deliver messages"
  on latchkey.webhook_deliveries;
create policy "Latchkey's own functions queue and deliver messages"
  on latchkey.webhook_deliveries to current_user using (true) with check (true);

-- Whether an endpoint's list names this action: by name, by `<prefix>.*`, or `*`.
create or replace function latchkey.webhook_wants(p_events text[], p_action text)
returns boolean
language sql
immutable
set search_path = ''
as $$
  select exists (
    select from pg_catalog.unnest(p_events) as wanted
    where wanted = p_action or wanted = '*'
      or (pg_catalog.right(wanted, 2) = '.*'
        and pg_catalog.left(p_action, pg_catalog.length(wanted) - 1)
          = pg_catalog.left(wanted, -1))
  )
$$;
revoke all on function latchkey.webhook_wants(text[], text) from public;

-- A message's body: the event in the shape GET /admin/audit shows it (functions/admin/routes/
-- list_audit.ts, auditEventView), times as JavaScript's toISOString writes them.
create or replace function latchkey.webhook_message(p_event latchkey.audit_events)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  with event as (
    select pg_catalog.to_char(p_event.created_at at time zone 'UTC',
      'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as at
  )
  select pg_catalog.jsonb_build_object(
    'type', p_event.action,
    'timestamp', event.at,
    'data', pg_catalog.jsonb_build_object(
      'id', p_event.id,
      'createdAt', event.at,
      'actorKind', p_event.actor_kind,
      'actorUserId', p_event.actor_user_id,
      'actorCredentialId', p_event.actor_credential_id,
      'actorEmail', (select u.email from latchkey.users u where u.id = p_event.actor_user_id),
      'action', p_event.action,
      'targetKind', p_event.target_kind,
      'targetId', p_event.target_id,
      'targetEmail', case when p_event.target_kind = 'user' then
        (select u.email from latchkey.users u where u.id = p_event.target_id) end,
      'requestId', p_event.request_id,
      'ipAddress', p_event.ip_address,
      'userAgent', p_event.user_agent,
      'metadata', p_event.metadata
    )
  )
  from event
$$;
revoke all on function latchkey.webhook_message(latchkey.audit_events) from public;

-- The one place events enter the outbox: every audit row, however it was written, in its own
-- transaction. Nothing is read but the endpoints table when no endpoint is enabled.
create or replace function latchkey.queue_webhook_deliveries()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_payload jsonb;
begin
  if not exists (
    select from latchkey.webhook_endpoints e
    where e.enabled and latchkey.webhook_wants(e.events, new.action)
  ) then
    return null;
  end if;
  v_payload := latchkey.webhook_message(new);
  insert into latchkey.webhook_deliveries (endpoint_id, event_id, event_type, payload)
  select e.id, new.id, new.action, v_payload
  from latchkey.webhook_endpoints e
  where e.enabled and latchkey.webhook_wants(e.events, new.action);
  return null;
end
$$;
revoke all on function latchkey.queue_webhook_deliveries() from public;
drop trigger if exists queue_webhook_deliveries on latchkey.audit_events;
create trigger queue_webhook_deliveries
  after insert on latchkey.audit_events
  for each row execute function latchkey.queue_webhook_deliveries();

-- Due messages for the functions to send: at most p_per_endpoint of each enabled endpoint not
-- in p_busy (those this isolate is still sending to), p_limit in all. Each is leased for
-- p_lease and its next attempt moved by the backoff: 10 s · 2^n, at most 2 hours. Only the
-- functions' own login may call it: it hands out the endpoints' encrypted secrets (the
-- previous one while its overlap lasts).
create or replace function latchkey.claim_webhook_deliveries(
  p_busy uuid[],
  p_per_endpoint integer,
  p_limit integer,
  p_lease interval
)
returns table (
  id uuid,
  endpoint_id uuid,
  url text,
  secret_ciphertext bytea,
  previous_secret_ciphertext bytea,
  payload jsonb,
  attempts integer
)
language sql
security definer
set search_path = ''
as $$
  with due as (
    select d.id
    from latchkey.webhook_endpoints e
    cross join lateral (
      select d.id from latchkey.webhook_deliveries d
      where d.endpoint_id = e.id and d.delivered_at is null and d.failed_at is null
        and d.next_attempt_at <= pg_catalog.now()
        and (d.leased_until is null or d.leased_until <= pg_catalog.now())
      order by d.next_attempt_at
      limit p_per_endpoint
      for update skip locked
    ) d
    where e.enabled and e.id <> all (coalesce(p_busy, '{}'))
    limit p_limit
  )
  update latchkey.webhook_deliveries d set
    attempts = d.attempts + 1,
    leased_until = pg_catalog.now() + p_lease,
    next_attempt_at = pg_catalog.now()
      + least(interval '2 hours', interval '10 seconds' * pg_catalog.power(2, d.attempts))
  from due, latchkey.webhook_endpoints e
  where d.id = due.id and e.id = d.endpoint_id
  returning d.id, d.endpoint_id, e.url, e.secret_ciphertext,
    case when e.previous_secret_expires_at > pg_catalog.now()
      then e.previous_secret_ciphertext end,
    d.payload, d.attempts
$$;
revoke all on function latchkey.claim_webhook_deliveries(uuid[], integer, integer, interval)
  from public;

-- An attempt's outcome: delivered, or failed (given up after p_max_attempts); the lease ends.
create or replace function latchkey.record_webhook_attempt(
  p_id uuid,
  p_delivered boolean,
  p_status integer,
  p_excerpt text,
  p_latency_ms integer,
  p_max_attempts integer
)
returns void
language sql
security definer
set search_path = ''
as $$
  update latchkey.webhook_deliveries d set
    leased_until = null,
    last_attempt_at = pg_catalog.now(),
    last_status = p_status,
    last_error = pg_catalog.left(p_excerpt, 300),
    last_latency_ms = p_latency_ms,
    delivered_at = case when p_delivered then pg_catalog.now() end,
    failed_at = case when not p_delivered and d.attempts >= p_max_attempts
      then pg_catalog.now() end
  where d.id = p_id
$$;
revoke all on function latchkey.record_webhook_attempt(
  uuid, boolean, integer, text, integer, integer
) from public;

-- A new secret; the old one keeps signing beside it for p_overlap (none: at once gone). A
-- caller may not read the secret columns, so moving the current one aside is done here, for
-- a caller holding webhooks:write. Returns when the old one stops signing, or null when there
-- is no such endpoint.
create or replace function latchkey.rotate_webhook_secret(
  p_id uuid,
  p_secret_ciphertext bytea,
  p_overlap interval
)
returns timestamptz
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_expires_at timestamptz;
begin
  if not latchkey.caller_has_permission('webhooks:write') then
    raise exception 'rotating a webhook secret needs webhooks:write' using errcode = '42501';
  end if;
  update latchkey.webhook_endpoints e set
    previous_secret_ciphertext = case when p_overlap > interval '0' then e.secret_ciphertext end,
    previous_secret_expires_at = case when p_overlap > interval '0'
      then pg_catalog.now() + p_overlap end,
    secret_ciphertext = p_secret_ciphertext,
    updated_at = pg_catalog.now()
  where e.id = p_id
  returning coalesce(e.previous_secret_expires_at, pg_catalog.now()) into v_expires_at;
  return v_expires_at;
end
$$;
revoke all on function latchkey.rotate_webhook_secret(uuid, bytea, interval) from public;
grant execute on function latchkey.rotate_webhook_secret(uuid, bytea, interval)
  to latchkey_caller;
