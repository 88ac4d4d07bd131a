-- The audit log: append-only for every role, the table owner included.

create table if not exists latchkey.audit_events (
  id uuid primary key default gen_random_uuid(),
  created_at timestamptz not null default clock_timestamp(),
  actor_kind text not null
    check (actor_kind in ('anonymous', 'session', 'api_key', 'admin_key', 'system')),
  actor_user_id uuid,
  -- The session or API key that acted; no foreign key, so history outlives the credential.
  actor_credential_id uuid,
  action text not null check (action ~ '^[a-z][a-z0-9_.]{2,63}$'),
  target_kind text,
  target_id uuid,
  request_id text,
  ip_address text,
  user_agent text,
  metadata jsonb not null default '{}'
);
create index if not exists audit_events_created_at_id_idx
  on latchkey.audit_events (created_at, id);
create index if not exists audit_events_actor_user_id_idx on latchkey.audit_events (actor_user_id);
create index if not exists audit_events_target_id_idx on latchkey.audit_events (target_id);

create or replace function latchkey.refuse_audit_change()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'audit events are append-only (% refused)', tg_op
    using errcode = 'insufficient_privilege';
end
$$;
revoke all on function latchkey.refuse_audit_change() from public;

drop trigger if exists audit_events_are_append_only on latchkey.audit_events;
create trigger audit_events_are_append_only
  before update or delete on latchkey.audit_events
  for each row execute function latchkey.refuse_audit_change();
drop trigger if exists audit_events_cannot_be_truncated on latchkey.audit_events;
create trigger audit_events_cannot_be_truncated
  before truncate on latchkey.audit_events
  for each statement execute function latchkey.refuse_audit_change();

alter table latchkey.audit_events enable row level security;
alter table latchkey.audit_events force row level security;
revoke all on latchkey.audit_events from public, anon, authenticated, service_role;
grant select on latchkey.audit_events to authenticated;

drop policy if exists "Latchkey's own functions append audit events" on latchkey.audit_events;
create policy "Latchkey's own functions append audit events" on latchkey.audit_events
  for insert to current_user with check (true);
drop policy if exists "Latchkey's own functions read audit events" on latchkey.audit_events;
create policy "Latchkey's own functions read audit events" on latchkey.audit_events
  for select to current_user using (true);
drop policy if exists "Support and admins can read audit events" on latchkey.audit_events;
create policy "Support and admins can read audit events" on latchkey.audit_events
  for select to authenticated using ((select latchkey.caller_has_role('support', 'admin')));

-- The one writer of audit rows. `p_request` is {requestId, ip, userAgent} from the HTTP layer.
create or replace function latchkey.append_audit_event(
  p_actor_kind text,
  p_actor_user_id uuid,
  p_actor_credential_id uuid,
  p_action text,
  p_target_kind text,
  p_target_id uuid,
  p_request jsonb,
  p_metadata jsonb default '{}'
)
returns uuid
language sql
security definer
set search_path = ''
as $$
  insert into latchkey.audit_events (
    actor_kind, actor_user_id, actor_credential_id, action, target_kind, target_id,
    request_id, ip_address, user_agent, metadata
  )
  values (
    p_actor_kind, p_actor_user_id, p_actor_credential_id, p_action, p_target_kind, p_target_id,
    left(p_request ->> 'requestId', 255), left(p_request ->> 'ip', 100),
    left(p_request ->> 'userAgent', 500), coalesce(p_metadata, '{}')
  )
  returning id
$$;
revoke all on function latchkey.append_audit_event(text, uuid, uuid, text, text, uuid, jsonb, jsonb)
  from public;

-- For route queries running as `authenticated`: the actor and the request come from the
-- transaction's claims, so a caller can only ever write events in its own name.
create or replace function latchkey.record_audit_event(
  p_action text,
  p_target_kind text,
  p_target_id uuid,
  p_metadata jsonb default '{}'
)
returns uuid
language sql
security definer
set search_path = ''
as $$
  select latchkey.append_audit_event(
    coalesce(latchkey.current_claims() ->> 'principal_kind', 'anonymous'),
    latchkey.current_user_id(),
    nullif(latchkey.current_claims() ->> 'credential_id', '')::uuid,
    p_action, p_target_kind, p_target_id,
    coalesce(nullif(pg_catalog.current_setting('latchkey.request', true), ''), '{}')::jsonb,
    p_metadata
  )
$$;
revoke all on function latchkey.record_audit_event(text, text, uuid, jsonb) from public;
grant execute on function latchkey.record_audit_event(text, text, uuid, jsonb) to authenticated;
