-- Notification mail, the gaps of issue 30 item 5: an account's role in an organization
-- (`org_role_changed`: added, changed, removed, left, ownership handed on) and an unban
-- (`account_unbanned`) are notified too, and no account is mailed more than a limit of each kind
-- an hour (LATCHKEY_NOTIFY_MAX_PER_HOUR, `notifyPerHour` in the request beside `notify`), so
-- whoever loops an action that notifies (a key made and revoked, a member's role flipped, a ban
-- and an unban) cannot mail-bomb the holder. The limit counts per kind, so a flood of one kind
-- never hides a notice of another (a password change after a hundred new keys is still mailed).
-- What goes over it is not queued but counted; the first held back in an hour is audited once
-- (`mail.notifications_capped`, with the actor and request of the event that went over), and the
-- next notice of that kind says how many were held back. With LATCHKEY_IDENTITY=supabase an
-- address Supabase Auth confirmed counts as verified (Latchkey's own verification never runs
-- for those accounts).

alter table latchkey.mail_outbox drop constraint if exists mail_outbox_kind_check;
alter table latchkey.mail_outbox add constraint mail_outbox_kind_check
  check (kind in ('password_reset', 'email_verification', 'org_invitation', 'password_changed',
    'key_created', 'mfa_changed', 'role_changed', 'account_banned', 'key_leaked',
    'org_role_changed', 'account_unbanned')) not valid;
alter table latchkey.mail_outbox validate constraint mail_outbox_kind_check;

-- One row per account and kind: the current hour's notices sent and held back.
create table if not exists latchkey.notification_windows (
  user_id uuid not null references latchkey.users (id) on delete cascade,
  kind text not null,
  window_start timestamptz not null,
  sent integer not null default 0,
  held_back integer not null default 0,
  primary key (user_id, kind)
);
alter table latchkey.notification_windows enable row level security;
alter table latchkey.notification_windows force row level security;
revoke all on latchkey.notification_windows from public, anon, authenticated, service_role;
drop policy if exists "Latchkey's own functions count notifications"
  on latchkey.notification_windows;
create policy "Latchkey's own functions count notifications" on latchkey.notification_windows
  to current_user using (true) with check (true);

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
    when p_event.action in ('org.member_added', 'org.member_role_changed', 'org.member_removed',
      'org.member_left', 'org.ownership_transferred') then array['org_role_changed']
    when p_event.action = 'admin.user_updated' then pg_catalog.array_remove(array[
      case when p_event.metadata #>> '{before,role}' is distinct from
        p_event.metadata #>> '{after,role}' then 'role_changed' end,
      case when p_event.metadata #>> '{after,banned}' = 'true'
        and p_event.metadata #>> '{before,banned}' = 'false' then 'account_banned' end,
      case when p_event.metadata #>> '{after,banned}' = 'false'
        and p_event.metadata #>> '{before,banned}' = 'true' then 'account_unbanned' end
    ], null)
    else '{}'::text[]
  end
$$;
revoke all on function latchkey.notification_kinds(latchkey.audit_events) from public;

-- Whether `p_user_id` may be sent another `p_kind` notice this hour: counts it either way, and
-- audits the first one held back in the hour. Returns the notice's opening line about the last
-- hour that held some back (empty when none did), or null when this one is held back.
create or replace function latchkey.take_notification_allowance(
  p_event latchkey.audit_events,
  p_user_id uuid,
  p_kind text,
  p_per_hour integer
)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_hour timestamptz := pg_catalog.date_trunc('hour', pg_catalog.now());
  v_window latchkey.notification_windows;
  v_earlier text := '';
begin
  insert into latchkey.notification_windows (user_id, kind, window_start)
  values (p_user_id, p_kind, v_hour)
  on conflict do nothing;
  select * into v_window from latchkey.notification_windows w
  where w.user_id = p_user_id and w.kind = p_kind
  for update;
  if v_window.window_start < v_hour then
    if v_window.held_back > 0 then
      v_earlier := 'In the hour from ' || pg_catalog.to_char(v_window.window_start at time zone
        'UTC', 'HH24:MI "UTC on" YYYY-MM-DD') || ', ' || v_window.held_back || ' more ' ||
        case when v_window.held_back = 1 then 'notice' else 'notices' end ||
        ' like this one were not mailed: at most ' || p_per_hour || ' an hour of each kind are ' ||
        'sent to an account. Your administrator can see them in the audit log.';
    end if;
    v_window.sent := 0;
    v_window.held_back := 0;
  end if;
  if v_window.sent >= p_per_hour then
    update latchkey.notification_windows w
    set window_start = v_hour, sent = v_window.sent, held_back = v_window.held_back + 1
    where w.user_id = p_user_id and w.kind = p_kind;
    if v_window.held_back = 0 then
      -- Filed as the event that went over was, so an admin sees whose requests flood whom. No
      -- `notify` in the request: this event queues no mail of its own.
      perform latchkey.append_audit_event(p_event.actor_kind, p_event.actor_user_id,
        p_event.actor_credential_id, 'mail.notifications_capped', 'user', p_user_id,
        pg_catalog.jsonb_build_object('requestId', p_event.request_id, 'ip',
          p_event.ip_address, 'userAgent', p_event.user_agent),
        pg_catalog.jsonb_build_object('kind', p_kind, 'limitPerHour', p_per_hour,
          'windowStart', v_hour, 'eventId', p_event.id, 'action', p_event.action));
    end if;
    return null;
  end if;
  update latchkey.notification_windows w
  set window_start = v_hour, sent = v_window.sent + 1, held_back = v_window.held_back
  where w.user_id = p_user_id and w.kind = p_kind;
  return v_earlier;
end
$$;
revoke all on function latchkey.take_notification_allowance(latchkey.audit_events, uuid, text,
  integer) from public;

-- Queues the notification mail of one audit event for each enabled kind it causes, to each
-- account it concerns (an ownership handed on concerns two), within the hourly allowance.
create or replace function latchkey.queue_account_notifications(
  p_event latchkey.audit_events,
  p_enabled text[],
  p_per_hour integer
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_kind text;
  v_user_id uuid;
  v_recipients uuid[];
  v_user record;
  v_confirmed boolean;
  v_key record;
  v_factor record;
  v_org text;
  v_by_admin boolean;
  v_when text := pg_catalog.to_char(p_event.created_at at time zone 'UTC',
    'YYYY-MM-DD HH24:MI "UTC"');
  v_from text := case when p_event.ip_address is not null
    then ' from the address ' || p_event.ip_address::text else '' end;
  v_earlier text;
  v_subject text;
  v_lines text[];
  v_not_you text;
begin
  foreach v_kind in array latchkey.notification_kinds(p_event) loop
    continue when not v_kind = any (p_enabled);
    -- Whose account: the target user, a key's owner, a factor's holder, the member.
    v_key := null;
    v_factor := null;
    if p_event.target_kind = 'user' then
      v_recipients := array[p_event.target_id];
    elsif p_event.target_kind = 'api_key' then
      select k.user_id, k.name, k.key_prefix into v_key from latchkey.api_keys k
      where k.id = coalesce((p_event.metadata ->> 'newKeyId')::uuid, p_event.target_id);
      v_recipients := array[v_key.user_id];
    elsif p_event.target_kind = 'factor' then
      select f.user_id, f.type, f.name into v_factor from latchkey.mfa_factors f
      where f.id = p_event.target_id;
      -- A removed factor is gone: its holder removed it, and the event names it.
      v_recipients := array[coalesce(v_factor.user_id, p_event.actor_user_id)];
      if v_factor.user_id is null then
        select p_event.metadata ->> 'type' as type, p_event.metadata ->> 'name' as name
        into v_factor;
      end if;
    elsif p_event.target_kind = 'organization' then
      -- By name and slug, quoted: its owners chose the name.
      select 'the organization "' || o.name || '" (' || o.slug || ')' into v_org
      from latchkey.organizations o where o.id = p_event.target_id;
      v_org := coalesce(v_org, 'an organization');
      -- Two accounts in id order, so two hand-overs between the same people in opposite
      -- directions (in two organizations) take their allowances' rows in the same order.
      v_recipients := case p_event.action
        when 'org.ownership_transferred' then array(
          select pg_catalog.unnest(array[(p_event.metadata ->> 'to')::uuid,
            (p_event.metadata ->> 'from')::uuid]) as id order by id)
        else array[(p_event.metadata ->> 'userId')::uuid]
      end;
    else
      v_recipients := '{}';
    end if;

    foreach v_user_id in array v_recipients loop
      select u.email, u.role, u.email_verified_at is not null as verified,
        exists (select from latchkey.supabase_identities s where s.user_id = u.id) as supabase
      into v_user from latchkey.users u
      where u.id = v_user_id and not u.is_service_account;
      continue when not found;
      v_confirmed := v_user.verified;
      if not v_confirmed and v_user.supabase then
        -- Supabase Auth proves these addresses (auth.users exists wherever such accounts do):
        -- the address it confirmed, if it is still the account's.
        execute 'select coalesce(lower(a.email) = lower($2) and a.email_confirmed_at is not '
          || 'null, false) from auth.users a where a.id = $1'
          into v_confirmed using v_user_id, v_user.email;
      end if;
      continue when not coalesce(v_confirmed, false);
      v_earlier := latchkey.take_notification_allowance(p_event, v_user_id, v_kind, p_per_hour);
      continue when v_earlier is null;
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
          when 'admin.password_set' then 'An administrator set a new password for your ' ||
            'account (' || v_user.email || ') on ' || v_when || '.'
          else 'The password of your account (' || v_user.email || ') was changed on ' ||
            v_when || v_from || '.'
        end, 'Every other session of the account was signed out.'];
        v_not_you := 'If this was not you, reset your password now with "Forgot password" on ' ||
          'the sign-in page, check your API keys and second factors, and tell your ' ||
          'administrator.';
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
        v_not_you := 'If this was not you, revoke that key, change your password and tell ' ||
          'your administrator.';
      elsif v_kind = 'mfa_changed' then
        v_subject := 'Your second factors changed';
        v_lines := array[case p_event.action
          when 'admin.factors_reset' then 'An administrator removed every second factor and ' ||
            'recovery code of your account (' || v_user.email || ') on ' || v_when ||
            ' and signed out its sessions.'
          when 'auth.factor_removed' then 'The second factor "' ||
            coalesce(v_factor.name, '') || '" (' || coalesce(v_factor.type, 'factor') ||
            ') was removed from your account (' || v_user.email || ') on ' || v_when ||
            v_from || '.'
          else 'A second factor "' || coalesce(v_factor.name, '') || '" (' ||
            coalesce(v_factor.type, 'factor') || ') was added to your account (' ||
            v_user.email || ') on ' || v_when || v_from || '.'
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
      elsif v_kind = 'account_unbanned' then
        v_subject := 'Your account was unbanned';
        v_lines := array['An administrator lifted the ban on your account (' || v_user.email ||
          ') on ' || v_when || ': its API keys work again. Sessions signed out by the ban ' ||
          'stay signed out: sign in again.'];
        v_not_you := 'If you did not expect this, tell your administrator.';
      elsif v_kind = 'key_leaked' then
        v_subject := 'An API key of yours was reported leaked';
        v_lines := array['The API key "' || v_key.name || '", starting ' || v_key.key_prefix ||
          ', of your account (' || v_user.email || ') was reported as leaked' || v_from ||
          ' on ' || v_when || ' and was revoked at once: it no longer works.',
          'Make a new key for whatever used it, and find where the old one was exposed (a ' ||
          'public repository, a log, a shared file).'];
        v_not_you := 'If you do not know how it leaked, change your password and tell your ' ||
          'administrator.';
      elsif v_kind = 'org_role_changed' then
        v_lines := array[case p_event.action
          when 'org.member_added' then 'Your account (' || v_user.email || ') joined ' ||
            v_org || ' as ' || (p_event.metadata ->> 'role') || ', accepting an invitation, on ' ||
            v_when || v_from || '.'
          when 'org.member_role_changed' then 'The role of your account (' || v_user.email ||
            ') in ' || v_org || ' is now ' || (p_event.metadata ->> 'after') || ' (it was ' ||
            (p_event.metadata ->> 'before') || '), since ' || v_when ||
            case when v_by_admin then ', changed by another member' else v_from end || '.'
          when 'org.member_removed' then 'Your account (' || v_user.email || ') was removed ' ||
            'from ' || v_org || ', where it was ' || (p_event.metadata ->> 'role') ||
            ', by another member on ' || v_when || '.'
          when 'org.member_left' then 'Your account (' || v_user.email || ') left ' || v_org ||
            ', where it was ' || (p_event.metadata ->> 'role') || ', on ' || v_when || v_from ||
            '.'
          else case when v_user_id = (p_event.metadata ->> 'to')::uuid
            then 'Your account (' || v_user.email || ') is now the owner of ' || v_org ||
              ' (it was ' || (p_event.metadata ->> 'previousRole') || '), handed on by its ' ||
              'owner on ' || v_when || '.'
            else 'Your account (' || v_user.email || ') handed the ownership of ' || v_org ||
              ' on to another member on ' || v_when || v_from || ': its role there is now admin.'
          end
        end];
        v_subject := case p_event.action
          when 'org.member_added' then 'You joined an organization'
          when 'org.member_removed' then 'You were removed from an organization'
          when 'org.member_left' then 'You left an organization'
          else 'Your role in an organization changed'
        end;
        v_not_you := 'If you did not expect this, tell the organization''s owners, change ' ||
          'your password and tell your administrator.';
      end if;
      v_lines := case when v_earlier = '' then v_lines else v_earlier || v_lines end ||
        v_not_you;
      insert into latchkey.mail_outbox (kind, recipient, subject, text_body, html_body)
      values (v_kind, v_user.email, v_subject,
        pg_catalog.array_to_string(v_lines, E'\n\n') || E'\n', latchkey.mail_html(v_lines));
    end loop;
  end loop;
end
$$;
revoke all on function latchkey.queue_account_notifications(latchkey.audit_events, text[],
  integer) from public;
drop function if exists latchkey.queue_account_notifications(latchkey.audit_events, text[]);

-- The one writer of audit rows, as before; the hourly allowance travels with the kinds
-- (`notifyPerHour`, LATCHKEY_NOTIFY_MAX_PER_HOUR; 10, its default, if a caller left it out).
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
      pg_catalog.string_to_array(p_request ->> 'notify', ','),
      greatest(coalesce((p_request ->> 'notifyPerHour')::integer, 10), 1));
  end if;
  return v_event.id;
end
$$;
revoke all on function latchkey.append_audit_event(text, uuid, uuid, text, text, uuid, jsonb, jsonb)
  from public;
