-- Email verification: a link sent on sign-up (and for accounts an admin makes with a
-- password) proves the address is its owner's. Service accounts and the bootstrap admin count
-- as verified from the start: nobody will click a link for them.

create or replace function latchkey.verify_machine_accounts()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if (new.is_service_account or new.created_by_bootstrap) and new.email_verified_at is null then
    new.email_verified_at := pg_catalog.now();
  end if;
  return new;
end
$$;
revoke all on function latchkey.verify_machine_accounts() from public;
drop trigger if exists users_machine_accounts_verified on latchkey.users;
create trigger users_machine_accounts_verified
  before insert or update of is_service_account, created_by_bootstrap on latchkey.users
  for each row execute function latchkey.verify_machine_accounts();

create index if not exists users_unverified_created_at_id_idx
  on latchkey.users (created_at, id) where email_verified_at is null;

-- A verification link for the account's current address: earlier ones die, the token is
-- stored as its hash, the mail goes to the outbox in the same transaction. With p_resend_limit,
-- a resend: at most that many an hour per account (retry_after > 0: not sent). Nothing is
-- sent for an address already verified (queued false).
create or replace function latchkey.queue_email_verification(
  p_user_id uuid,
  p_token_hash bytea,
  p_ttl interval,
  p_subject text,
  p_text text,
  p_html text,
  p_resend_limit integer default null,
  out retry_after integer,
  out queued boolean
)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user record;
begin
  retry_after := 0;
  queued := false;
  select u.id, u.email, u.email_verified_at into v_user
  from latchkey.users u where u.id = p_user_id and u.banned_at is null;
  if not found or v_user.email_verified_at is not null then
    return;
  end if;
  if p_resend_limit is not null then
    retry_after := latchkey.take_client_allowance('verify_resend', p_user_id::text,
      p_resend_limit, interval '1 hour');
    if retry_after > 0 then
      return;
    end if;
  end if;
  update latchkey.account_tokens set used_at = pg_catalog.now()
  where user_id = p_user_id and purpose = 'email_verification' and used_at is null;
  insert into latchkey.account_tokens (token_hash, user_id, purpose, email, expires_at)
  values (p_token_hash, p_user_id, 'email_verification', v_user.email, pg_catalog.now() + p_ttl);
  insert into latchkey.mail_outbox (kind, recipient, subject, text_body, html_body)
  values ('email_verification', v_user.email, p_subject, p_text, p_html);
  queued := true;
end
$$;
revoke all on function latchkey.queue_email_verification(
  uuid, bytea, interval, text, text, text, integer
) from public;

-- Following a verification link: single use, unexpired, for the address it was sent to (an
-- address changed since is not proven by it). Throttled per client like the other recovery
-- routes. Returns the user's id, or null; and the client's retry-after.
create or replace function latchkey.verify_email(
  p_token_hash bytea,
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
begin
  retry_after := latchkey.take_client_allowance('recovery_client', p_client, p_client_limit,
    interval '1 hour');
  if retry_after > 0 then
    return;
  end if;
  update latchkey.account_tokens t set used_at = pg_catalog.now()
  where t.token_hash = p_token_hash and t.purpose = 'email_verification' and t.used_at is null
    and t.expires_at > pg_catalog.now()
  returning t.user_id, t.email into v_token;
  if not found then
    return;
  end if;
  update latchkey.users u
  set email_verified_at = coalesce(u.email_verified_at, pg_catalog.now())
  where u.id = v_token.user_id and lower(u.email) = lower(v_token.email);
  if not found then
    return;
  end if;
  perform latchkey.append_audit_event(
    'anonymous', null, null, 'auth.email_verified', 'user', v_token.user_id, p_request,
    pg_catalog.jsonb_build_object('email', v_token.email)
  );
  user_id := v_token.user_id;
end
$$;
revoke all on function latchkey.verify_email(bytea, text, integer, jsonb) from public;
