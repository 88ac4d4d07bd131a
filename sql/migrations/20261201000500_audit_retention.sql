-- Audit retention (LATCHKEY_AUDIT_RETENTION_DAYS): old events deleted in bounded batches, each
-- its own short transaction on the (created_at, id) index, so no long lock is ever held. The
-- log stays append-only for everyone else: only `latchkey_audit_pruner`, a NOLOGIN role that
-- owns nothing but the pruning function, may delete, and only events older than a day.

do $$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'latchkey_audit_pruner') then
    create role latchkey_audit_pruner nologin noinherit;
  end if;
  -- The migration's role hands the pruning function to it, which needs membership.
  if not pg_catalog.pg_has_role(current_user, 'latchkey_audit_pruner', 'member') then
    execute pg_catalog.format('grant latchkey_audit_pruner to %I', current_user);
  end if;
end
$$;
comment on role latchkey_audit_pruner is
  'Latchkey: deletes audit events past their retention, and nothing else.';

grant usage on schema latchkey to latchkey_audit_pruner;
grant select (id, created_at), delete on latchkey.audit_events to latchkey_audit_pruner;
drop policy if exists "The pruner sees audit events older than a day" on latchkey.audit_events;
create policy "The pruner sees audit events older than a day" on latchkey.audit_events
  for select to latchkey_audit_pruner using (created_at < now() - interval '1 day');
drop policy if exists "The pruner deletes audit events older than a day" on latchkey.audit_events;
create policy "The pruner deletes audit events older than a day" on latchkey.audit_events
  for delete to latchkey_audit_pruner using (created_at < now() - interval '1 day');

create or replace function latchkey.refuse_audit_change()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'DELETE' and current_user = 'latchkey_audit_pruner'
    and old.created_at < pg_catalog.now() - interval '1 day' then
    return old;
  end if;
  raise exception 'audit events are append-only (% refused)', tg_op
    using errcode = 'insufficient_privilege';
end
$$;

-- Deletes up to `p_batch` of the oldest events older than `p_retention_days` and returns how
-- many; 0 when another isolate is pruning right now (they would only wait on each other).
create or replace function latchkey.prune_audit_events(p_retention_days integer, p_batch integer)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_deleted integer;
begin
  if p_retention_days is null or p_retention_days < 1 then
    raise exception 'audit retention must be at least one day' using errcode = 'invalid_parameter_value';
  end if;
  if not pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtext('latchkey.prune_audit_events')) then
    return 0;
  end if;
  delete from latchkey.audit_events e
  where e.id in (
    select a.id from latchkey.audit_events a
    where a.created_at < pg_catalog.now() - pg_catalog.make_interval(days => p_retention_days)
    order by a.created_at
    limit least(greatest(p_batch, 1), 50000)
  );
  get diagnostics v_deleted = row_count;
  return v_deleted;
end
$$;
-- A new owner needs CREATE on the schema at that moment, and only then.
grant create on schema latchkey to latchkey_audit_pruner;
alter function latchkey.prune_audit_events(integer, integer) owner to latchkey_audit_pruner;
revoke create on schema latchkey from latchkey_audit_pruner;
revoke all on function latchkey.prune_audit_events(integer, integer) from public;
do $$
begin
  execute pg_catalog.format(
    'grant execute on function latchkey.prune_audit_events(integer, integer) to %I', current_user
  );
end
$$;
