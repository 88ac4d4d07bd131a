-- Webhooks under load (issue 30, item 6): queueing a message costs less in every audited
-- transaction. Measured with pg_stat_statements over a burst of 10,000 events to three endpoints
-- beside key checks at 64 connections (`deno task bench -- --webhooks-only`), the burst's
-- transactions spent about 7 s more inside PostgreSQL than with the endpoints disabled:
--
-- * The foreign key from a message to its endpoint: each of the three inserts per event took a
--   FOR KEY SHARE lock on the endpoint's row. Concurrent transactions sharing a row lock turn
--   its xmax into a MultiXact, and every reader of the three endpoint rows (the queueing
--   trigger's own lookup: 0.2 ms an event instead of 0.01) then resolves that MultiXact's
--   members. The key is gone; an endpoint's messages are deleted with it by a trigger, and the
--   few a transaction may queue for an endpoint deleted under it (it read the endpoint before
--   the delete committed) are never claimed (a claim joins the endpoint) and are deleted by
--   the retention pruning. An audited change never fails because an endpoint was deleted
--   meanwhile, as a foreign key would have made it.
-- * Three rows per event, each with four index entries, written by four connections at once
--   into the same index pages, one durable commit each (0.12 ms a row, even without a body);
--   and, to choose the endpoints, a call of `webhook_wants` per enabled endpoint. The event's
--   transaction now writes one narrow row into `webhook_queue` (one index, its identity:
--   appended) when any endpoint is enabled; the deliverer fans the queue out into the
--   per-endpoint messages in batches (a claim and a trim do it first): the endpoints enabled
--   then that want the event, hundreds of rows to a statement and commit. The queue row is the
--   outbox entry: written in the event's own transaction (nothing for a rolled-back change,
--   nothing lost for a committed one), and taken with `for update skip locked`, so a row of a
--   transaction that commits late is fanned out by a later call, never skipped. A message
--   keeps the event's time as its `created_at` (age, order, the backlog cap and latency as
--   before). An endpoint hears what is fanned out while it is enabled: one disabled, created
--   or changed in the moment between an event and its fan-out (a sweep comes within 250 ms of
--   an answer) is judged as it is at the fan-out.
-- * The message's body, built and written three times per event. It is now built once, at
--   the message's first claim, from the audit event (`audit_events` is append-only), and kept
--   for every later attempt: the body is the event as GET /admin/audit shows it then, which is
--   what a receiver is promised. A dead endpoint's messages, which its cooling-down lane seldom
--   claims and the backlog cap drops, are never built at all. Test messages still bring their
--   own body.

create table if not exists latchkey.webhook_queue (
  seq bigint generated always as identity primary key,
  event_id uuid not null,
  event_type text not null,
  created_at timestamptz not null default now()
);
alter table latchkey.webhook_queue enable row level security;
alter table latchkey.webhook_queue force row level security;
revoke all on latchkey.webhook_queue from public, anon, authenticated, service_role;
drop policy if exists "Latchkey's own functions queue and fan out events"
  on latchkey.webhook_queue;
create policy "Latchkey's own functions queue and fan out events"
  on latchkey.webhook_queue to current_user using (true) with check (true);

alter table latchkey.webhook_deliveries
  drop constraint if exists webhook_deliveries_endpoint_id_fkey;
alter table latchkey.webhook_deliveries alter column payload drop not null;

create or replace function latchkey.delete_webhook_endpoint_deliveries()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from latchkey.webhook_deliveries d where d.endpoint_id = old.id;
  return null;
end
$$;
revoke all on function latchkey.delete_webhook_endpoint_deliveries() from public;
drop trigger if exists delete_webhook_endpoint_deliveries on latchkey.webhook_endpoints;
create trigger delete_webhook_endpoint_deliveries
  after delete on latchkey.webhook_endpoints
  for each row execute function latchkey.delete_webhook_endpoint_deliveries();

create or replace function latchkey.queue_webhook_deliveries()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into latchkey.webhook_queue (event_id, event_type)
  select new.id, new.action
  where exists (select from latchkey.webhook_endpoints e where e.enabled);
  return null;
end
$$;
revoke all on function latchkey.queue_webhook_deliveries() from public;

-- Up to p_batch queued events, oldest first, become messages to the enabled endpoints that want
-- them; answers how many events. Rows another call is fanning out are skipped, not waited for.
create or replace function latchkey.fan_out_webhook_queue(p_batch integer)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_events integer;
begin
  with taken as (
    delete from latchkey.webhook_queue q
    where q.seq in (
      select o.seq from latchkey.webhook_queue o
      order by o.seq
      limit least(greatest(coalesce(p_batch, 1), 1), 10000)
      for update skip locked
    )
    returning q.seq, q.event_id, q.event_type, q.created_at
  ),
  -- Who wants what is asked once per action in the batch, not once per event.
  wanted as (
    select kind.event_type, e.id as endpoint_id
    from (select distinct taken.event_type from taken) kind
    join latchkey.webhook_endpoints e
      on e.enabled and latchkey.webhook_wants(e.events, kind.event_type)
  ),
  messages as (
    insert into latchkey.webhook_deliveries
      (endpoint_id, event_id, event_type, created_at, next_attempt_at)
    select w.endpoint_id, t.event_id, t.event_type, t.created_at, t.created_at
    from taken t
    join wanted w on w.event_type = t.event_type
    order by t.seq, w.endpoint_id
  )
  select pg_catalog.count(*)::integer into v_events from taken;
  return v_events;
end
$$;
revoke all on function latchkey.fan_out_webhook_queue(integer) from public;

-- The claim, as before, after fanning out what is queued, and building the body of a message
-- claimed for the first time. It no longer moves `next_attempt_at` (the lease keeps others off
-- while the attempt runs; a failure sets the backoff when it is recorded): moved to now + 10 s,
-- each claimed message's new index entry landed just right of where the fan-out inserts, among
-- the dead entries of the messages claimed in the last 10 s, and the fan-out's inserts grew
-- slower round after round of a burst. A message whose event is no longer in the audit log (pruned by
-- its retention before a late re-delivery) has nothing to send: it is marked failed, saying
-- why, and not handed out. PL/pgSQL, so the claim's statement sees the fan-out's rows.
create or replace function latchkey.claim_webhook_deliveries(
  p_busy uuid[],
  p_per_endpoint integer,
  p_limit integer,
  p_lease interval,
  p_only uuid default null
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
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
begin
  perform latchkey.fan_out_webhook_queue(1000);
  return query
  with due as (
    select d.id, d.payload, d.event_id
    from latchkey.webhook_endpoints e
    cross join lateral (
      select d.id, d.payload, d.event_id from latchkey.webhook_deliveries d
      where d.endpoint_id = e.id and d.delivered_at is null and d.failed_at is null
        and d.next_attempt_at <= pg_catalog.now()
        and (d.leased_until is null or d.leased_until <= pg_catalog.now())
      order by d.next_attempt_at
      limit p_per_endpoint
      for update skip locked
    ) d
    where e.enabled and e.id <> all (coalesce(p_busy, '{}'))
      and (p_only is null or e.id = p_only)
    limit p_limit
  ),
  built as (
    select due.id, coalesce(due.payload, (
      select latchkey.webhook_message(a) from latchkey.audit_events a where a.id = due.event_id
    )) as payload
    from due
  ),
  claimed as (
    update latchkey.webhook_deliveries d set
      payload = built.payload,
      attempts = d.attempts + 1,
      leased_until = case when built.payload is not null then pg_catalog.now() + p_lease end,
      last_attempt_at = case when built.payload is null then pg_catalog.now()
        else d.last_attempt_at end,
      last_error = case when built.payload is null
        then 'The event is no longer in the audit log (its retention ended); nothing to send.'
        else d.last_error end,
      failed_at = case when built.payload is null then pg_catalog.now() end
    from built, latchkey.webhook_endpoints e
    where d.id = built.id and e.id = d.endpoint_id
    returning d.id, d.endpoint_id, e.url, e.secret_ciphertext,
      case when e.previous_secret_expires_at > pg_catalog.now()
        then e.previous_secret_ciphertext end as previous_secret_ciphertext,
      d.payload, d.attempts
  )
  select * from claimed where claimed.payload is not null;
end
$$;
revoke all on function latchkey.claim_webhook_deliveries(uuid[], integer, integer, interval, uuid)
  from public;

-- Retention, as before; and the messages of endpoints that no longer exist (queued by a
-- transaction that read the endpoint before its delete committed), whatever their age. The
-- endpoints the outbox names are found by a skip scan of its (endpoint_id, created_at, id)
-- index, so looking costs a few index descents per endpoint, not a scan of the outbox.
create or replace function latchkey.prune_webhook_deliveries(
  p_retention_days integer,
  p_batch integer
)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_cutoff timestamptz;
  v_limit integer := least(greatest(coalesce(p_batch, 1), 1), 50000);
  v_deleted integer;
  v_orphans integer;
begin
  if coalesce(p_retention_days, 0) < 1 then
    raise exception 'webhook deliveries are kept at least one day' using errcode = '22023';
  end if;
  if not pg_catalog.pg_try_advisory_xact_lock(
    pg_catalog.hashtext('latchkey.prune_webhook_deliveries')
  ) then
    return 0;
  end if;
  v_cutoff := pg_catalog.now() - pg_catalog.make_interval(days => p_retention_days);
  delete from latchkey.webhook_deliveries d
  where d.id in (
    select old.id
    from latchkey.webhook_endpoints e
    cross join lateral (
      select o.id from latchkey.webhook_deliveries o
      where o.endpoint_id = e.id and o.created_at < v_cutoff
        and (o.delivered_at is not null or o.failed_at is not null)
      order by o.created_at, o.id
      limit v_limit
    ) old
    limit v_limit
  );
  get diagnostics v_deleted = row_count;
  with recursive named (endpoint_id) as (
    (select d.endpoint_id from latchkey.webhook_deliveries d order by d.endpoint_id limit 1)
    union all
    select (
      select d.endpoint_id from latchkey.webhook_deliveries d
      where d.endpoint_id > named.endpoint_id
      order by d.endpoint_id
      limit 1
    )
    from named
    where named.endpoint_id is not null
  )
  delete from latchkey.webhook_deliveries d
  where d.id in (
    select o.id from latchkey.webhook_deliveries o
    where o.endpoint_id in (
      select named.endpoint_id from named
      where named.endpoint_id is not null
        and not exists (select from latchkey.webhook_endpoints e where e.id = named.endpoint_id)
    )
    limit greatest(v_limit - v_deleted, 0)
  );
  get diagnostics v_orphans = row_count;
  return v_deleted + v_orphans;
end
$$;
revoke all on function latchkey.prune_webhook_deliveries(integer, integer) from public;

-- An attempt's outcome, as before; a failure not yet given up is due again after the backoff,
-- 10 s · 2^(attempt - 1), at most 2 hours, counted from the outcome (the claim no longer sets it).
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
    next_attempt_at = case when p_delivered then d.next_attempt_at
      else pg_catalog.now() + least(interval '2 hours',
        interval '10 seconds' * pg_catalog.power(2, greatest(d.attempts - 1, 0))) end,
    delivered_at = case when p_delivered then pg_catalog.now() end,
    failed_at = case when not p_delivered and d.attempts >= p_max_attempts
      then pg_catalog.now() end
  where d.id = p_id
$$;
revoke all on function latchkey.record_webhook_attempt(
  uuid, boolean, integer, text, integer, integer
) from public;
