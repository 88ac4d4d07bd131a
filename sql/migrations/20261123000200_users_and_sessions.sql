-- Accounts and their sessions. Hash columns are never granted to API roles.

create table if not exists latchkey.users (
  id uuid primary key default gen_random_uuid(),
  email text not null check (length(email) between 3 and 320),
  name text not null check (length(name) between 1 and 200),
  -- argon2id PHC string; null for service accounts, which never sign in with a password.
  password_hash text,
  role text not null default 'user' check (role in ('user', 'support', 'admin')),
  tier text not null default 'free' check (tier ~ '^[a-z][a-z0-9_-]{0,31}$'),
  is_service_account boolean not null default false,
  banned_at timestamptz,
  ban_reason text check (length(ban_reason) <= 500),
  last_sign_in_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index if not exists users_email_lower_key on latchkey.users (lower(email));
create index if not exists users_created_at_id_idx on latchkey.users (created_at, id);

alter table latchkey.users enable row level security;
alter table latchkey.users force row level security;
revoke all on latchkey.users from public, anon, authenticated, service_role;
grant select (
  id, email, name, role, tier, is_service_account, banned_at, ban_reason, last_sign_in_at,
  created_at, updated_at
) on latchkey.users to authenticated;

drop policy if exists "Latchkey's own functions manage users" on latchkey.users;
create policy "Latchkey's own functions manage users" on latchkey.users
  to current_user using (true) with check (true);
drop policy if exists "Users can read their own profile" on latchkey.users;
create policy "Users can read their own profile" on latchkey.users
  for select to authenticated using (id = (select latchkey.current_user_id()));
drop policy if exists "Support and admins can read every user" on latchkey.users;
create policy "Support and admins can read every user" on latchkey.users
  for select to authenticated using ((select latchkey.caller_has_role('support', 'admin')));

create table if not exists latchkey.sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references latchkey.users (id) on delete cascade,
  -- SHA-256 of the bearer token: the token itself is shown once and never stored.
  token_hash bytea not null unique check (length(token_hash) = 32),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz,
  ip_address text,
  user_agent text
);
create index if not exists sessions_user_id_created_at_idx
  on latchkey.sessions (user_id, created_at);

alter table latchkey.sessions enable row level security;
alter table latchkey.sessions force row level security;
revoke all on latchkey.sessions from public, anon, authenticated, service_role;
grant select (id, user_id, created_at, expires_at, revoked_at, ip_address, user_agent)
  on latchkey.sessions to authenticated;
grant update (revoked_at) on latchkey.sessions to authenticated;

drop policy if exists "Latchkey's own functions manage sessions" on latchkey.sessions;
create policy "Latchkey's own functions manage sessions" on latchkey.sessions
  to current_user using (true) with check (true);
drop policy if exists "Users can read their own sessions" on latchkey.sessions;
create policy "Users can read their own sessions" on latchkey.sessions
  for select to authenticated using (user_id = (select latchkey.current_user_id()));
drop policy if exists "Support and admins can read every session" on latchkey.sessions;
create policy "Support and admins can read every session" on latchkey.sessions
  for select to authenticated using ((select latchkey.caller_has_role('support', 'admin')));
drop policy if exists "Users can revoke their own sessions" on latchkey.sessions;
create policy "Users can revoke their own sessions" on latchkey.sessions
  for update to authenticated
  using (user_id = (select latchkey.current_user_id()))
  with check (user_id = (select latchkey.current_user_id()));
drop policy if exists "Support and admins can revoke any session" on latchkey.sessions;
create policy "Support and admins can revoke any session" on latchkey.sessions
  for update to authenticated
  using ((select latchkey.caller_has_role('support', 'admin')))
  with check ((select latchkey.caller_has_role('support', 'admin')));

-- Failed sign-ins per email, for throttling credential stuffing. The email is stored as its
-- SHA-256 so probing for unknown addresses leaves no list of them behind.
create table if not exists latchkey.sign_in_failures (
  email_hash bytea not null,
  failed_at timestamptz not null default now()
);
create index if not exists sign_in_failures_email_hash_failed_at_idx
  on latchkey.sign_in_failures (email_hash, failed_at);

alter table latchkey.sign_in_failures enable row level security;
alter table latchkey.sign_in_failures force row level security;
revoke all on latchkey.sign_in_failures from public, anon, authenticated, service_role;
drop policy if exists "Latchkey's own functions manage sign-in failures"
  on latchkey.sign_in_failures;
create policy "Latchkey's own functions manage sign-in failures" on latchkey.sign_in_failures
  to current_user using (true) with check (true);
