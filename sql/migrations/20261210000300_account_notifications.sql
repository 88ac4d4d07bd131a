-- Notification mail to the account holder (issue 30, item 5): a password changed or reset, a
-- new API key, a second factor added or removed, a role changed, the account banned, a key
-- reported leaked. Queued in the mail outbox by the one writer of audit rows, in the very
-- transaction of the change (a rolled-back change mails nothing), when the kind is enabled.
-- The enabled kinds come with the request (`p_request ->> 'notify'`, a comma list the functions
-- take from LATCHKEY_NOTIFY, in `latchkey.request` for route transactions and in the p_request
-- of the functions called outside one), so a request without them (the bootstrap and promote
-- tasks, SQL run by hand) mails nothing. Only a verified address is mailed, never a service
-- account's; the mail names things (a key's name and 12-character prefix, a factor's name, the
-- time, the client's address), never a secret.

-- Not validated here: running this migration again after a later one widened the list
-- (20261214000100) must not fail on the later kinds' rows; that later one validates its own.
alter table latchkey.mail_outbox drop constraint if exists mail_outbox_kind_check;
alter table latchkey.mail_outbox add constraint mail_outbox_kind_check
  check (kind in ('password_reset', 'email_verification', 'org_invitation', 'password_changed',
    'key_created', 'mfa_changed', 'role_changed', 'account_banned', 'key_leaked')) not valid;

-- The kinds of notification an audit action may cause (an admin's account change may be two).
create or replace function latchkey.notification_kinds(p_event latchkey.audit_events)
returns text[]
language sql
immutable
set search_path = ''
as $$
  select case
    when p_event.action in ('auth.password_changed', 'auth.password_reset', 'admin.password_set')
      then array['password_changed']
    when p_event.action in ('api_key.created', 'admin.key_created', 'api_key.rotated',
      'admin.key_rotated') then array['key_created']
    when p_event.action in ('auth.factor_confirmed', 'auth.passkey_registered',
      'auth.factor_removed', 'admin.factors_reset') then array['mfa_changed']
    when p_event.action in ('bootstrap.user_promoted', 'bootstrap.admin_promoted')
      then array['role_changed']
    when p_event.action = 'api_key.revoked_as_leaked' then array['key_leaked']
    when p_event.action = 'admin.user_updated' then pg_catalog.array_remove(array[
      case when p_event.metadata #>> '{before,role}' is distinct from
        p_event.metadata #>> '{after,role}' then 'role_changed' end,
      case when p_event.metadata #>> '{after,banned}' = 'true'
        and p_event.metadata #>> '{before,banned}' = 'false' then 'account_banned' end
    ], null)
    else '{}'::text[]
  end
$$;
revoke all on function latchkey.notification_kinds(latchkey.audit_events) from public;

-- Lines as a mail's HTML, each a paragraph, escaped.
create or replace function latchkey.mail_html(p_lines text[])
returns text
language sql
immutable
set search_path = ''
as $$
  select '<!doctype html><html><body>' || coalesce(pg_catalog.string_agg('<p>' ||
    pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(
      pg_catalog.replace(line, '&', '&#38;'), '<', '&#60;'), '>', '&#62;'), '"', '&#34;'),
      '''', '&#39;') || '</p>', '' order by n), '') || '</body></html>'
  from pg_catalog.unnest(p_lines) with ordinality as l(line, n)
$$;
revoke all on function latchkey.mail_html(text[]) from public;

-- Queues the notification mail of one audit event for each enabled kind it causes.
create or replace function latchkey.queue_account_notifications(
  p_event latchkey.audit_events,
  p_enabled text[]
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_kind text;
  v_user_id uuid;
  v_user record;
  v_key record;
  v_factor record;
  v_by_admin boolean;
  v_when text := pg_catalog.to_char(p_event.created_at at time zone 'UTC',
    'YYYY-MM-DD HH24:MI "UTC"');
  v_from text := case when p_event.ip_address is not null
    then ' from the address ' || p_event.ip_address::text else '' end;
  v_subject text;
  v_lines text[];
  v_not_you text;
begin
  foreach v_kind in array latchkey.notification_kinds(p_event) loop
    continue when not v_kind = any (p_enabled);
    -- Whose account: the target user, a key's owner, a factor's holder.
    v_key := null;
    v_factor := null;
    if p_event.target_kind = 'user' then
      v_user_id := p_event.target_id;
    elsif p_event.target_kind = 'api_key' then
      select k.user_id, k.name, k.key_prefix into v_key from latchkey.api_keys k
      where k.id = coalesce((p_event.metadata ->> 'newKeyId')::uuid, p_event.target_id);
      v_user_id := v_key.user_id;
    elsif p_event.target_kind = 'factor' then
      select f.user_id, f.type, f.name into v_factor from latchkey.mfa_factors f
      where f.id = p_event.target_id;
      -- A removed factor is gone: its holder removed it, and the event names it.
      v_user_id := coalesce(v_factor.user_id, p_event.actor_user_id);
      if v_factor.user_id is null then
        select p_event.metadata ->> 'type' as type, p_event.metadata ->> 'name' as name
        into v_factor;
      end if;
    else
      v_user_id := null;
    end if;
    select u.email, u.role into v_user from latchkey.users u
    where u.id = v_user_id and not u.is_service_account and u.email_verified_at is not null;
    continue when not found;
    -- Someone else's doing: the admin key, or another account's session or key.
    v_by_admin := p_event.actor_kind = 'admin_key'
      or p_event.actor_user_id is distinct from v_user_id;

    v_not_you := 'If this was not you, change your password now (or reset it with "Forgot ' ||
      'password" on the sign-in page), check your API keys and second factors, and tell your ' ||
      'administrator.';
    if v_kind = 'password_changed' then
      v_subject := 'Your password was changed';
      v_lines := array[case p_event.action
        when 'auth.password_reset' then 'The password of your account (' || v_user.email ||
          ') was reset with a link mailed to this address on ' || v_when || v_from || '.'
        when 'admin.password_set' then 'An administrator set a new password for your account (' ||
          v_user.email || ') on ' || v_when || '.'
        else 'The password of your account (' || v_user.email || ') was changed on ' || v_when ||
          v_from || '.'
      end, 'Every other session of the account was signed out.'];
      v_not_you := 'If this was not you, reset your password now with "Forgot password" on ' ||
        'the sign-in page, check your API keys and second factors, and tell your administrator.';
    elsif v_kind = 'key_created' then
      v_subject := 'A new API key on your account';
      v_lines := array[case when p_event.action like '%rotated'
        then 'The API key "' || v_key.name || '" of your account (' || v_user.email ||
          ') was rotated on ' || v_when || v_from || ': a new key starting ' ||
          v_key.key_prefix || ' replaces it.'
        else 'A new API key "' || v_key.name || '", starting ' || v_key.key_prefix ||
          ', was created on your account (' || v_user.email || ') on ' || v_when ||
          case when v_by_admin then ' by an administrator' else v_from end || '.'
      end];
      v_not_you := 'If this was not you, revoke that key, change your password and tell your ' ||
        'administrator.';
    elsif v_kind = 'mfa_changed' then
      v_subject := 'Your second factors changed';
      v_lines := array[case p_event.action
        when 'admin.factors_reset' then 'An administrator removed every second factor and ' ||
          'recovery code of your account (' || v_user.email || ') on ' || v_when ||
          ' and signed out its sessions.'
        when 'auth.factor_removed' then 'The second factor "' || coalesce(v_factor.name, '') ||
          '" (' || coalesce(v_factor.type, 'factor') || ') was removed from your account (' ||
          v_user.email || ') on ' || v_when || v_from || '.'
        else 'A second factor "' || coalesce(v_factor.name, '') || '" (' ||
          coalesce(v_factor.type, 'factor') || ') was added to your account (' || v_user.email ||
          ') on ' || v_when || v_from || '.'
      end];
    elsif v_kind = 'role_changed' then
      v_subject := 'Your role changed';
      v_lines := array['The role of your account (' || v_user.email || ') is now ' ||
        coalesce(p_event.metadata #>> '{after,role}', v_user.role) ||
        coalesce(' (it was ' || (p_event.metadata #>> '{before,role}') || ')', '') ||
        ', since ' || v_when || '.'];
      v_not_you := 'If you did not expect this, tell your administrator.';
    elsif v_kind = 'account_banned' then
      v_subject := 'Your account was banned';
      v_lines := array['An administrator banned your account (' || v_user.email || ') on ' ||
        v_when || ': its sessions were signed out and its API keys no longer work.'];
      v_not_you := 'If you think this is a mistake, contact your administrator.';
    elsif v_kind = 'key_leaked' then
      v_subject := 'An API key of yours was reported leaked';
      v_lines := array['The API key "' || v_key.name || '", starting ' || v_key.key_prefix ||
        ', of your account (' || v_user.email || ') was reported as leaked' || v_from ||
        ' on ' || v_when || ' and was revoked at once: it no longer works.',
        'Make a new key for whatever used it, and find where the old one was exposed (a ' ||
        'public repository, a log, a shared file).'];
      v_not_you := 'If you do not know how it leaked, change your password and tell your ' ||
        'administrator.';
    end if;
    v_lines := v_lines || v_not_you;
    insert into latchkey.mail_outbox (kind, recipient, subject, text_body, html_body)
    values (v_kind, v_user.email, v_subject, pg_catalog.array_to_string(v_lines, E'\n\n') || E'\n',
      latchkey.mail_html(v_lines));
  end loop;
end
$$;
revoke all on function latchkey.queue_account_notifications(latchkey.audit_events, text[])
  from public;

-- The one writer of audit rows, as before, and now the one place notifications are queued.
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
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_event latchkey.audit_events;
begin
  insert into latchkey.audit_events (
    actor_kind, actor_user_id, actor_credential_id, action, target_kind, target_id,
    request_id, ip_address, user_agent, metadata
  )
  values (
    p_actor_kind, p_actor_user_id, p_actor_credential_id, p_action, p_target_kind, p_target_id,
    left(p_request ->> 'requestId', 255), left(p_request ->> 'ip', 100),
    left(p_request ->> 'userAgent', 500), coalesce(p_metadata, '{}')
  )
  returning * into v_event;
  if coalesce(p_request ->> 'notify', '') <> ''
    and cardinality(latchkey.notification_kinds(v_event)) > 0 then
    perform latchkey.queue_account_notifications(v_event,
      pg_catalog.string_to_array(p_request ->> 'notify', ','));
  end if;
  return v_event.id;
end
$$;
revoke all on function latchkey.append_audit_event(text, uuid, uuid, text, text, uuid, jsonb, jsonb)
  from public;
