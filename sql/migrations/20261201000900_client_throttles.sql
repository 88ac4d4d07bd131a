-- Sign-in throttling that an attacker cannot turn against the owner, and that sees sprayers:
-- failures count per (email, client) for the lock-out (someone else's wrong guesses no longer
-- lock the owner out), per client across emails (one client spraying a password over many
-- accounts is slowed after its allowance), and per email across clients as a higher ceiling
-- that slows (GCRA: one try per window/ceiling) rather than locks. Every check runs before any
-- password hash is computed.

alter table latchkey.sign_in_failures add column if not exists client_hash bytea;
drop index if exists latchkey.sign_in_failures_email_hash_failed_at_idx;
create index if not exists sign_in_failures_email_client_failed_at_idx
  on latchkey.sign_in_failures (email_hash, client_hash, failed_at);

create or replace function latchkey.client_hash(p_client text)
returns bytea
language sql
immutable
set search_path = ''
as $$
  select pg_catalog.sha256(pg_catalog.convert_to(coalesce(p_client, 'unknown'), 'UTF8'))
$$;
revoke all on function latchkey.client_hash(text) from public;

drop function if exists latchkey.begin_sign_in(text, integer, interval);
-- Always one row, known email or not, so the caller's work (and timing) is the same.
-- retry_after_seconds > 0: refused before any hash, `throttled_by` says why ('client':
-- too many failures from this client; 'email_client': this client's failures at this email;
-- 'email': the email's ceiling across clients).
create or replace function latchkey.begin_sign_in(
  p_email text,
  p_client text,
  p_max_failures integer,
  p_window interval,
  p_client_failures integer,
  p_email_failures integer
)
returns table (
  user_id uuid, password_hash text, is_banned boolean, retry_after_seconds integer,
  throttled_by text, email_verified boolean
)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_client integer := latchkey.throttle_retry_after('sign_in_client', p_client,
    p_client_failures, p_window);
  v_email integer := latchkey.throttle_retry_after('sign_in_email', lower(p_email),
    p_email_failures, p_window);
begin
  return query
  select u.id, u.password_hash, u.banned_at is not null,
    greatest(
      v_client,
      v_email,
      case
        when limiting.failed_at is null then 0
        else greatest(1, ceil(extract(epoch from (limiting.failed_at + p_window - now()))))::integer
      end
    ),
    case
      when v_client > 0 then 'client'
      when limiting.failed_at is not null then 'email_client'
      when v_email > 0 then 'email'
    end,
    u.email_verified_at is not null
  from (select) as one_row
  left join latchkey.users u on lower(u.email) = lower(p_email)
  left join lateral (
    select f.failed_at
    from latchkey.sign_in_failures f
    where f.email_hash = latchkey.email_hash(p_email)
      and f.client_hash = latchkey.client_hash(p_client)
      and f.failed_at > now() - p_window
    order by f.failed_at desc
    offset greatest(p_max_failures - 1, 0)
    limit 1
  ) limiting on true;
end
$$;
revoke all on function latchkey.begin_sign_in(text, text, integer, interval, integer, integer)
  from public;

drop function if exists latchkey.record_failed_sign_in(text, uuid, text, jsonb);
-- A failed sign-in (or a wrong current password): counted for its (email, client) pair, for
-- its client and for its email; refusals for a throttle are not counted again, and audited
-- once a minute per email with the repeats.
create or replace function latchkey.record_failed_sign_in(
  p_email text,
  p_user_id uuid,
  p_reason text,
  p_client text,
  p_window interval,
  p_client_failures integer,
  p_email_failures integer,
  p_request jsonb
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_email_hash bytea := latchkey.email_hash(p_email);
  v_repeats integer := 0;
begin
  -- Prune this email's old failures as we go, so the table stays small without a cron job.
  delete from latchkey.sign_in_failures
  where email_hash = v_email_hash and failed_at < now() - interval '1 day';

  if p_reason <> 'throttled' then
    insert into latchkey.sign_in_failures (email_hash, client_hash)
    values (v_email_hash, latchkey.client_hash(p_client));
    perform latchkey.throttle_hit('sign_in_client', p_client, p_client_failures, p_window);
    perform latchkey.throttle_hit('sign_in_email', lower(p_email), p_email_failures, p_window);
    -- The route audits a wrong current password itself, with the session as the actor.
    if p_reason = 'wrong_current_password' then
      return;
    end if;
  else
    v_repeats := latchkey.first_in_minute(
      'auth.sign_in_throttled:' || pg_catalog.encode(v_email_hash, 'hex')
    );
    if v_repeats is null then
      return;
    end if;
  end if;

  perform latchkey.append_audit_event(
    'anonymous', null, null, 'auth.sign_in_failed', 'user', p_user_id, p_request,
    pg_catalog.jsonb_build_object('reason', p_reason) || case
      when p_reason = 'throttled'
        then pg_catalog.jsonb_build_object('repeatsInPreviousMinute', v_repeats)
      else '{}'::jsonb
    end
  );
end
$$;
revoke all on function latchkey.record_failed_sign_in(
  text, uuid, text, text, interval, integer, integer, jsonb
) from public;
