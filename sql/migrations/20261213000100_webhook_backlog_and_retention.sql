-- Webhooks under load (issue 30, item 6): an endpoint's undelivered backlog is capped, and
-- finished deliveries are kept for a while, not forever.
--
-- The cap is kept by a trim that the functions' background deliverer runs (at most every
-- second per isolate, one isolate at a time), not by the queueing trigger: the trigger runs in
-- every audited transaction, the key check's batches included, and a per-endpoint counter row
-- there would be one hot row that every such transaction updates and holds until it commits
-- (they would queue behind each other's commits), while a count per event would read the whole
-- backlog. The trim reads at most the cap's worth of index entries per endpoint; between two
-- trims a backlog may run past the cap by what arrives meanwhile.
--
-- A dropped message is given up like a failed one (`failed_at`, so no claim sees it again and
-- the due index leaves it) and marked `dropped_at`, so the delivery log tells the two apart. It
-- keeps its body: POST /admin/webhooks/deliveries/:id/retry sends it again, as a failed one.

alter table latchkey.webhook_deliveries add column if not exists dropped_at timestamptz;
grant select (dropped_at) on latchkey.webhook_deliveries to latchkey_caller;
-- A re-delivery of a dropped message takes the mark off.
grant update (dropped_at) on latchkey.webhook_deliveries to latchkey_caller;

-- An endpoint's backlog, oldest first: what the trim counts (newest first, up to the cap) and
-- drops (oldest first). The due index is in retry order, which is not the age.
create index if not exists webhook_deliveries_backlog_idx
  on latchkey.webhook_deliveries (endpoint_id, created_at, id)
  where delivered_at is null and failed_at is null;

-- Queueing costs less in every audited transaction (measured per event with three endpoints
-- enabled, one connection: about 0.75 ms more than with none, now about 0.4 ms): the endpoints
-- are read once, not once to ask and again to insert, and the message is built by PL/pgSQL,
-- whose plans a connection keeps, where a security definer SQL function is planned again in
-- every transaction. The message is the same.
create or replace function latchkey.webhook_message(p_event latchkey.audit_events)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_at text := pg_catalog.to_char(p_event.created_at at time zone 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
begin
  return pg_catalog.jsonb_build_object(
    'type', p_event.action,
    'timestamp', v_at,
    'data', pg_catalog.jsonb_build_object(
      'id', p_event.id,
      'createdAt', v_at,
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
  );
end
$$;
revoke all on function latchkey.webhook_message(latchkey.audit_events) from public;

create or replace function latchkey.queue_webhook_deliveries()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_endpoints uuid[];
  v_payload jsonb;
begin
  select pg_catalog.array_agg(e.id) into v_endpoints
  from latchkey.webhook_endpoints e
  where e.enabled and latchkey.webhook_wants(e.events, new.action);
  if v_endpoints is null then
    return null;
  end if;
  v_payload := latchkey.webhook_message(new);
  insert into latchkey.webhook_deliveries (endpoint_id, event_id, event_type, payload)
  select endpoint, new.id, new.action, v_payload from pg_catalog.unnest(v_endpoints) as endpoint;
  return null;
end
$$;
revoke all on function latchkey.queue_webhook_deliveries() from public;

-- The claim, as before, with `p_only`: a lane whose endpoint answers claims that endpoint's
-- next messages itself (webhook_outbox.ts), so a live endpoint's backlog drains at its own
-- pace, not one sweep's share at a time.
drop function if exists latchkey.claim_webhook_deliveries(uuid[], integer, integer, interval);
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
      and (p_only is null or e.id = p_only)
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
revoke all on function latchkey.claim_webhook_deliveries(uuid[], integer, integer, interval, uuid)
  from public;

-- Drops the oldest undelivered messages of every endpoint whose backlog is over p_limit, at
-- most p_batch of each endpoint per call (`more`: some endpoint had more to drop); answers how
-- many it dropped. Messages in flight (leased) are left to their attempt. Each endpoint's drop
-- is audited as webhook.backlog_dropped at most once a minute (the drops between two events
-- are counted in latchkey.audit_repeats and reported by the next one), so a dead endpoint
-- cannot flood the log; and when that event will join this endpoint's own backlog, one more
-- is dropped to leave room for it. The event goes through the queueing trigger like any other
-- and no trigger calls this function: a drop never drops again in the same call. 0 when
-- another isolate is trimming right now.
create or replace function latchkey.trim_webhook_backlogs(p_limit integer, p_batch integer)
returns table (dropped integer, more boolean)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_limit integer := greatest(coalesce(p_limit, 1), 1);
  v_batch integer := least(greatest(coalesce(p_batch, 1), 1), 50000);
  v_window timestamptz := pg_catalog.date_trunc('minute', pg_catalog.now());
  v_endpoint record;
  v_cut_at timestamptz[];
  v_cut_id uuid[];
  v_cut integer;
  v_subject text;
  v_window_start timestamptz;
  v_unreported integer;
  v_audit boolean;
  v_dropped integer;
  v_total integer := 0;
  v_more boolean := false;
begin
  if not pg_catalog.pg_try_advisory_xact_lock(
    pg_catalog.hashtext('latchkey.trim_webhook_backlogs')
  ) then
    return query select 0, false;
    return;
  end if;
  for v_endpoint in select e.id, e.enabled, e.events from latchkey.webhook_endpoints e loop
    -- Over the cap at all? The newest p_limit are passed over on the index (most endpoints
    -- stop there, having read their short backlog); the two rows around the cap are kept.
    select pg_catalog.array_agg(p.created_at order by p.created_at desc, p.id desc),
      pg_catalog.array_agg(p.id order by p.created_at desc, p.id desc)
    into v_cut_at, v_cut_id
    from (
      select d.created_at, d.id from latchkey.webhook_deliveries d
      where d.endpoint_id = v_endpoint.id and d.delivered_at is null and d.failed_at is null
      order by d.created_at desc, d.id desc
      offset v_limit - 1
      limit 2
    ) p;
    if coalesce(pg_catalog.cardinality(v_cut_id), 0) < 2 then
      continue;
    end if;
    v_subject := 'webhook.backlog_dropped:' || v_endpoint.id::text;
    v_window_start := null;
    v_unreported := 0;
    select r.window_start, r.repeats into v_window_start, v_unreported
    from latchkey.audit_repeats r where r.subject = v_subject
    for update;
    v_audit := v_window_start is null or v_window_start < v_window;
    -- The newest message to drop (everything from it back is over the cap): the first past
    -- the cap, or the last within it when this drop's event will join the backlog.
    v_cut := case when v_audit and v_endpoint.enabled
      and latchkey.webhook_wants(v_endpoint.events, 'webhook.backlog_dropped') then 1 else 2 end;
    update latchkey.webhook_deliveries d set
      dropped_at = pg_catalog.now(),
      failed_at = pg_catalog.now()
    where d.id in (
      select o.id from latchkey.webhook_deliveries o
      where o.endpoint_id = v_endpoint.id and o.delivered_at is null and o.failed_at is null
        and (o.created_at, o.id) <= (v_cut_at[v_cut], v_cut_id[v_cut])
        and (o.leased_until is null or o.leased_until <= pg_catalog.now())
      order by o.created_at, o.id
      limit v_batch
      for update skip locked
    );
    get diagnostics v_dropped = row_count;
    if v_dropped = 0 then
      continue;
    end if;
    v_total := v_total + v_dropped;
    v_more := v_more or v_dropped = v_batch;
    if v_audit then
      insert into latchkey.audit_repeats as r (subject, window_start, repeats)
      values (v_subject, v_window, 0)
      on conflict (subject) do update set window_start = excluded.window_start, repeats = 0;
      perform latchkey.append_audit_event('system', null, null, 'webhook.backlog_dropped',
        'webhook_endpoint', v_endpoint.id, '{}'::jsonb,
        pg_catalog.jsonb_build_object('dropped', v_dropped, 'limit', v_limit,
          'droppedSincePreviousEvent', coalesce(v_unreported, 0)));
    else
      update latchkey.audit_repeats r set repeats = r.repeats + v_dropped
      where r.subject = v_subject;
    end if;
  end loop;
  return query select v_total, v_more;
end
$$;
revoke all on function latchkey.trim_webhook_backlogs(integer, integer) from public;

-- Retention: deletes up to p_batch delivered, failed or dropped messages written more than
-- p_retention_days ago, oldest first per endpoint; answers how many. A message still pending
-- stays whatever its age (the cap bounds those). 0 when another isolate is pruning right now.
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
  return v_deleted;
end
$$;
revoke all on function latchkey.prune_webhook_deliveries(integer, integer) from public;
