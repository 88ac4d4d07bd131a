-- Expired sign-in challenges do not pile up. A sign-in that needs a second factor leaves a row
-- in latchkey.sessions with purpose 'mfa_challenge' that lives minutes (and is revoked when it
-- is completed), and a passkey ceremony a row in latchkey.webauthn_challenges (five at most
-- per account, an account's expired ones deleted only when it asks for another). Nothing
-- deleted either once expired. After a response, at most every 10 minutes per isolate, the
-- functions call latchkey.prune_expired_challenges in bounded batches (each its own short
-- transaction, one isolate at a time).
--
-- Only challenges: a session (purpose 'session') stays after it expires, because the audit
-- log files events under session ids (GET /admin/audit?subject= finds them through the
-- user's sessions) and a credential id in an event should keep naming a row. No event is
-- filed under a challenge's id (a challenged sign-in's events target the user), no list shows
-- one, and every check refuses an expired one; a passkey challenge is read only by its own
-- ceremony, before it expires.
--
-- Deleting is `latchkey_challenge_pruner`'s alone, a NOLOGIN role that owns nothing but the
-- pruning function: it may see and delete expired challenge rows and nothing else (no live
-- challenge, no session, no token hash), whatever a bug in the function asked for.

do $$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'latchkey_challenge_pruner') then
    create role latchkey_challenge_pruner nologin noinherit;
  end if;
  -- The migration's role hands the pruning function to it, which needs membership.
  if not pg_catalog.pg_has_role(current_user, 'latchkey_challenge_pruner', 'member') then
    execute pg_catalog.format('grant latchkey_challenge_pruner to %I', current_user);
  end if;
end
$$;
comment on role latchkey_challenge_pruner is
  'Latchkey: deletes expired sign-in and passkey challenges, and nothing else.';

grant usage on schema latchkey to latchkey_challenge_pruner;
grant select (id, purpose, expires_at), delete on latchkey.sessions to latchkey_challenge_pruner;
grant select (challenge_hash, expires_at), delete on latchkey.webauthn_challenges
  to latchkey_challenge_pruner;
drop policy if exists "The pruner sees expired sign-in challenges" on latchkey.sessions;
create policy "The pruner sees expired sign-in challenges" on latchkey.sessions
  for select to latchkey_challenge_pruner
  using (purpose = 'mfa_challenge' and expires_at < now());
drop policy if exists "The pruner deletes expired sign-in challenges" on latchkey.sessions;
create policy "The pruner deletes expired sign-in challenges" on latchkey.sessions
  for delete to latchkey_challenge_pruner
  using (purpose = 'mfa_challenge' and expires_at < now());
drop policy if exists "The pruner sees expired WebAuthn challenges" on latchkey.webauthn_challenges;
create policy "The pruner sees expired WebAuthn challenges" on latchkey.webauthn_challenges
  for select to latchkey_challenge_pruner using (expires_at < now());
drop policy if exists "The pruner deletes expired WebAuthn challenges"
  on latchkey.webauthn_challenges;
create policy "The pruner deletes expired WebAuthn challenges" on latchkey.webauthn_challenges
  for delete to latchkey_challenge_pruner using (expires_at < now());

-- Each batch finds its rows on an index of what it looks for: the challenges alone (a sliver
-- of the sessions), oldest expiry first.
create index if not exists sessions_challenge_expires_at_idx on latchkey.sessions (expires_at)
  where purpose = 'mfa_challenge';
create index if not exists webauthn_challenges_expires_at_idx
  on latchkey.webauthn_challenges (expires_at);

-- Deletes up to `p_batch` expired sign-in challenges (their passkey challenges go with them)
-- and up to `p_batch` other expired passkey challenges; returns how many rows it deleted in
-- all. 0 when another isolate is pruning right now (they would only wait on each other).
create or replace function latchkey.prune_expired_challenges(p_batch integer)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_limit integer := least(greatest(coalesce(p_batch, 1), 1), 50000);
  v_challenges integer;
  v_passkey_challenges integer;
begin
  if not pg_catalog.pg_try_advisory_xact_lock(
    pg_catalog.hashtext('latchkey.prune_expired_challenges')
  ) then
    return 0;
  end if;
  delete from latchkey.sessions s
  where s.id in (
    select c.id from latchkey.sessions c
    where c.purpose = 'mfa_challenge' and c.expires_at < pg_catalog.now()
    order by c.expires_at
    limit v_limit
  );
  get diagnostics v_challenges = row_count;
  delete from latchkey.webauthn_challenges w
  where w.challenge_hash in (
    select o.challenge_hash from latchkey.webauthn_challenges o
    where o.expires_at < pg_catalog.now()
    order by o.expires_at
    limit v_limit
  );
  get diagnostics v_passkey_challenges = row_count;
  return v_challenges + v_passkey_challenges;
end
$$;
-- A new owner needs CREATE on the schema at that moment, and only then.
grant create on schema latchkey to latchkey_challenge_pruner;
alter function latchkey.prune_expired_challenges(integer) owner to latchkey_challenge_pruner;
revoke create on schema latchkey from latchkey_challenge_pruner;
revoke all on function latchkey.prune_expired_challenges(integer) from public;
do $$
begin
  execute pg_catalog.format(
    'grant execute on function latchkey.prune_expired_challenges(integer) to %I', current_user
  );
end
$$;
