-- What the console (issue 18) needs from the database: a banned filter that stays index-backed
-- at a million users, search combined with every filter, and the deployment's own warnings
-- (the bootstrap admin still on its first password, migrations the code expects but the
-- database lacks) for people who may read users.

-- When a password was last changed; null while the account keeps the password it was made
-- with. Set by the database, so no route can forget it.
alter table latchkey.users add column if not exists password_changed_at timestamptz;
grant select (password_changed_at) on latchkey.users to latchkey_caller;

create or replace function latchkey.note_password_change()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if old.password_hash is not null
    and new.password_hash is distinct from old.password_hash then
    new.password_changed_at := pg_catalog.now();
  end if;
  return new;
end
$$;
revoke all on function latchkey.note_password_change() from public;

drop trigger if exists users_note_password_change on latchkey.users;
create trigger users_note_password_change
  before update of password_hash on latchkey.users
  for each row execute function latchkey.note_password_change();

-- Banned people, newest first: few rows, so without this the newest-first scan reads every
-- account to find them.
create index if not exists users_banned_created_at_id_idx
  on latchkey.users (created_at, id) where banned_at is not null;

-- Search with every filter of the list inside the searching function: a filter applied to the
-- function's page afterwards would shorten pages and skip matches.
drop function if exists latchkey.matching_user_ids(text, text, text, timestamptz, uuid, integer);
create or replace function latchkey.matching_user_ids(
  p_text text,
  p_role text,
  p_tier text,
  p_banned boolean,
  p_verified boolean,
  p_before_created_at timestamptz,
  p_before_id uuid,
  p_limit integer
)
returns setof uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if not (latchkey.caller_has_permission('users:read')
    or latchkey.caller_has_permission('users:write')) then
    return;
  end if;
  return query execute
    'select u.id from latchkey.users u
     where u.search_text like $1
       and ($2::text is null or u.role = $2)
       and ($3::text is null or u.tier = $3)
       and ($4::boolean is null or (u.banned_at is not null) = $4)
       and ($5::boolean is null or (u.email_verified_at is not null) = $5)
       and ($7::uuid is null or (u.created_at, u.id) < ($6, $7))
     order by u.created_at desc, u.id desc
     limit $8'
    using '%' || pg_catalog.regexp_replace(lower(p_text), '([\\%_])', '\\\1', 'g') || '%',
      p_role, p_tier, p_banned, p_verified, p_before_created_at, p_before_id,
      least(greatest(p_limit, 1), 201);
end
$$;
revoke all on function latchkey.matching_user_ids(
  text, text, text, boolean, boolean, timestamptz, uuid, integer
) from public;
grant execute on function latchkey.matching_user_ids(
  text, text, text, boolean, boolean, timestamptz, uuid, integer
) to latchkey_caller;

-- The deployment's state for `GET /admin/warnings`: answers only a caller who may read users.
-- The migration history is where `supabase db push` and `deno task db:migrate` record it; a
-- database migrated some other way answers null.
create or replace function latchkey.deployment_state()
returns table (
  bootstrap_admin_on_first_password boolean,
  newest_migration text
)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_newest text;
begin
  if not latchkey.caller_has_permission('users:read') then
    return;
  end if;
  if pg_catalog.to_regclass('supabase_migrations.schema_migrations') is not null then
    execute 'select max(version) from supabase_migrations.schema_migrations' into v_newest;
  end if;
  return query select
    exists (
      select from latchkey.users u
      where u.created_by_bootstrap and not u.is_service_account
        and u.password_hash is not null and u.password_changed_at is null
        and u.banned_at is null and u.role = 'admin'
    ),
    v_newest;
end
$$;
revoke all on function latchkey.deployment_state() from public;
grant execute on function latchkey.deployment_state() to latchkey_caller;
