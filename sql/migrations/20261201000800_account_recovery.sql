-- Account recovery: single-use tokens (stored as SHA-256) for password resets and email
-- verification, and an outbox the mail leaves from, written in the same transaction as the
-- token, so a mail server that is down loses nothing.

-- The bootstrap admin and service accounts count as verified: nobody will click a link for them.
update latchkey.users set email_verified_at = created_at
where email_verified_at is null and (is_service_account or created_by_bootstrap);

create table if not exists latchkey.account_tokens (
  token_hash bytea primary key check (length(token_hash) = 32),
  user_id uuid not null references latchkey.users (id) on delete cascade,
  purpose text not null check (purpose in ('password_reset', 'email_verification')),
  -- The address the link went to: a verification proves this one, not a later one.
  email text not null,
  expires_at timestamptz not null,
  used_at timestamptz,
  created_at timestamptz not null default now()
);
create index if not exists account_tokens_user_id_purpose_idx
  on latchkey.account_tokens (user_id, purpose) where used_at is null;
alter table latchkey.account_tokens enable row level security;
alter table latchkey.account_tokens force row level security;
revoke all on latchkey.account_tokens from public, anon, authenticated, service_role;
drop policy if exists "Latchkey's own functions manage account tokens" on latchkey.account_tokens;
create policy "Latchkey's own functions manage account tokens" on latchkey.account_tokens
  to current_user using (true) with check (true);

-- Mail waiting to leave. The body holds the link (so the token) until delivery; then it is
-- scrubbed, and only who, what kind and when remain. Nobody but our own functions reads it.
create table if not exists latchkey.mail_outbox (
  id uuid primary key default gen_random_uuid(),
  kind text not null check (kind in ('password_reset', 'email_verification')),
  recipient text not null,
  subject text not null,
  text_body text,
  html_body text,
  created_at timestamptz not null default now(),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  delivered_at timestamptz,
  failed_at timestamptz,
  last_error text
);
create index if not exists mail_outbox_due_idx on latchkey.mail_outbox (next_attempt_at)
  where delivered_at is null and failed_at is null;
alter table latchkey.mail_outbox enable row level security;
alter table latchkey.mail_outbox force row level security;
revoke all on latchkey.mail_outbox from public, anon, authenticated, service_role;
drop policy if exists "Latchkey's own functions send mail" on latchkey.mail_outbox;
create policy "Latchkey's own functions send mail" on latchkey.mail_outbox
  to current_user using (true) with check (true);

-- One allowance of a throttle bucket (per client, per email), checked before it counts: 0 and
-- counted, or the seconds to wait (not counted). For what must be limited before any work.
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
  v_retry_after integer := latchkey.throttle_retry_after(p_bucket, p_client, p_limit, p_window);
begin
  if v_retry_after > 0 then
    return v_retry_after;
  end if;
  perform latchkey.throttle_hit(p_bucket, p_client, p_limit, p_window);
  return 0;
end
$$;
revoke all on function latchkey.take_client_allowance(text, text, integer, interval) from public;

-- Forgot-password, for any email, known or not: the same statement, one row back either way.
-- Throttled per email (silently: the answer must not differ) and per client (429). For an
-- account with a password, not banned, the previous reset tokens die, a new one is stored as
-- its hash, the mail goes to the outbox (the caller built it, link included, for every email,
-- so the work is the same) and it is audited. Returns the client's retry-after (0: accepted)
-- and whether mail was queued (for waking the sender, never for the answer).
create or replace function latchkey.request_password_reset(
  p_email text,
  p_token_hash bytea,
  p_ttl interval,
  p_subject text,
  p_text text,
  p_html text,
  p_client text,
  p_client_limit integer,
  p_email_limit integer,
  p_request jsonb,
  out retry_after integer,
  out queued boolean
)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user record;
  v_email_throttled boolean;
begin
  queued := false;
  retry_after := latchkey.take_client_allowance('recovery_client', p_client, p_client_limit,
    interval '1 hour');
  if retry_after > 0 then
    return;
  end if;
  v_email_throttled := latchkey.take_client_allowance('reset_email', lower(p_email),
    p_email_limit, interval '1 hour') > 0;

  select u.id, u.email into v_user
  from latchkey.users u
  where lower(u.email) = lower(p_email) and u.password_hash is not null and u.banned_at is null;
  if found and not v_email_throttled then
    update latchkey.account_tokens set used_at = pg_catalog.now()
    where user_id = v_user.id and purpose = 'password_reset' and used_at is null;
    insert into latchkey.account_tokens (token_hash, user_id, purpose, email, expires_at)
    values (p_token_hash, v_user.id, 'password_reset', v_user.email, pg_catalog.now() + p_ttl);
    insert into latchkey.mail_outbox (kind, recipient, subject, text_body, html_body)
    values ('password_reset', v_user.email, p_subject, p_text, p_html);
    queued := true;
  end if;
  -- Every request is audited, known email or not: the same durable write (and commit flush)
  -- either way, so the timing does not tell them apart.
  perform latchkey.append_audit_event(
    'anonymous', null, null, 'auth.password_reset_requested', 'user', v_user.id, p_request,
    pg_catalog.jsonb_build_object('mailed', queued)
  );
end
$$;
revoke all on function latchkey.request_password_reset(
  text, bytea, interval, text, text, text, text, integer, integer, jsonb
) from public;

-- A reset with its token: single use; the new password (hashed by the caller) replaces the
-- old, every session and every other reset token of the account dies, and the address counts
-- as verified (the link reached it). Throttled per client. Returns the user id, or null for a
-- token that is unknown, used or expired, and the client's retry-after.
create or replace function latchkey.reset_password(
  p_token_hash bytea,
  p_password_hash text,
  p_client text,
  p_client_limit integer,
  p_request jsonb,
  out user_id uuid,
  out retry_after integer
)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_token record;
  v_revoked integer;
begin
  retry_after := latchkey.take_client_allowance('recovery_client', p_client, p_client_limit,
    interval '1 hour');
  if retry_after > 0 then
    return;
  end if;

  update latchkey.account_tokens t set used_at = pg_catalog.now()
  where t.token_hash = p_token_hash and t.purpose = 'password_reset' and t.used_at is null
    and t.expires_at > pg_catalog.now()
  returning t.user_id, t.email into v_token;
  if not found then
    return;
  end if;
  update latchkey.users u set
    password_hash = p_password_hash,
    updated_at = pg_catalog.now(),
    email_verified_at = case
      when u.email_verified_at is null and lower(u.email) = lower(v_token.email)
        then pg_catalog.now()
      else u.email_verified_at
    end
  where u.id = v_token.user_id and u.banned_at is null;
  if not found then
    return;
  end if;
  update latchkey.account_tokens set used_at = pg_catalog.now()
  where account_tokens.user_id = v_token.user_id and purpose = 'password_reset'
    and used_at is null;
  update latchkey.sessions set revoked_at = pg_catalog.now()
  where sessions.user_id = v_token.user_id and revoked_at is null;
  get diagnostics v_revoked = row_count;
  perform latchkey.append_audit_event(
    'anonymous', null, null, 'auth.password_reset', 'user', v_token.user_id, p_request,
    pg_catalog.jsonb_build_object('sessionsRevoked', v_revoked)
  );
  user_id := v_token.user_id;
end
$$;
revoke all on function latchkey.reset_password(bytea, text, text, integer, jsonb) from public;

-- The sender's lease: up to p_limit due messages, each pushed to its next attempt (backoff
-- 30 s · 2^attempts, at most an hour) before it is sent, so two isolates never send one
-- message at the same time, and a sender that dies mid-send retries later.
create or replace function latchkey.claim_mail(p_limit integer)
returns table (id uuid, kind text, recipient text, subject text, text_body text,
  html_body text, attempts integer)
language sql
security definer
set search_path = ''
as $$
  with due as (
    select m.id from latchkey.mail_outbox m
    where m.delivered_at is null and m.failed_at is null and m.next_attempt_at <= pg_catalog.now()
    order by m.next_attempt_at
    limit p_limit
    for update skip locked
  )
  update latchkey.mail_outbox m set
    attempts = m.attempts + 1,
    next_attempt_at = pg_catalog.now()
      + least(interval '1 hour', interval '30 seconds' * power(2, m.attempts))
  from due where m.id = due.id
  returning m.id, m.kind, m.recipient, m.subject, m.text_body, m.html_body, m.attempts
$$;
revoke all on function latchkey.claim_mail(integer) from public;

-- The outcome of one attempt: delivered (the body scrubbed), or failed (the error kept; after
-- p_max_attempts it is given up on, scrubbed and audited, so admins see it).
create or replace function latchkey.record_mail_attempt(
  p_id uuid,
  p_error text,
  p_max_attempts integer
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_mail record;
begin
  if p_error is null then
    update latchkey.mail_outbox set delivered_at = pg_catalog.now(), text_body = null,
      html_body = null, last_error = null
    where id = p_id;
    return;
  end if;
  update latchkey.mail_outbox m set
    last_error = left(p_error, 500),
    failed_at = case when m.attempts >= p_max_attempts then pg_catalog.now() end,
    text_body = case when m.attempts >= p_max_attempts then null else m.text_body end,
    html_body = case when m.attempts >= p_max_attempts then null else m.html_body end
  where m.id = p_id
  returning m.id, m.kind, m.recipient, m.attempts, m.failed_at into v_mail;
  if v_mail.failed_at is not null then
    perform latchkey.append_audit_event(
      'system', null, null, 'mail.delivery_failed', null, null, '{}'::jsonb,
      pg_catalog.jsonb_build_object('mailId', v_mail.id, 'kind', v_mail.kind,
        'recipient', v_mail.recipient, 'attempts', v_mail.attempts, 'error', left(p_error, 500))
    );
  end if;
end
$$;
revoke all on function latchkey.record_mail_attempt(uuid, text, integer) from public;
