-- A database as hosted Supabase sets up every project before any migration of ours: our own
-- SQL, from the facts of supabase/postgres and supabase/auth (the auth.* helpers RLS policies
-- call). Run as `supabase_admin` on a fresh database, after supabase_roles.sql; everything
-- after it (migrations, seed, every test, the functions) runs as the demoted `postgres`.

-- The database belongs to supabase_admin; postgres gets everything on it but ownership.
do $$
begin
  execute pg_catalog.format('grant all on database %I to postgres', pg_catalog.current_database());
end
$$;
grant all on schema public to postgres;
grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to postgres, anon, authenticated, service_role;

-- Extensions live in their own schema.
create schema extensions;
create extension "uuid-ossp" with schema extensions;
create extension pgcrypto with schema extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;
grant all on schema extensions to postgres, dashboard_user;
-- 20230224042246_grant_extensions_perms_for_postgres.sql
grant all privileges on all tables in schema extensions to postgres with grant option;
grant all privileges on all routines in schema extensions to postgres with grant option;
grant all privileges on all sequences in schema extensions to postgres with grant option;
alter default privileges in schema extensions grant all on tables to postgres with grant option;
alter default privileges in schema extensions grant all on routines to postgres with grant option;
alter default privileges in schema extensions grant all on sequences to postgres with grant option;

-- Supabase Auth's schema and the helpers RLS policies call. Owned by supabase_auth_admin;
-- postgres may use it and read it, never create in it (hosted forbids objects of ours there).
create schema auth authorization supabase_auth_admin;
create table auth.users (
  instance_id uuid,
  id uuid primary key,
  aud varchar(255),
  role varchar(255),
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_sso_user boolean not null default false,
  is_anonymous boolean not null default false,
  banned_until timestamptz,
  created_at timestamptz,
  updated_at timestamptz,
  deleted_at timestamptz
);
alter table auth.users owner to supabase_auth_admin;

-- Supabase Auth's second factors, as its migrations leave them (supabase/auth, migrations
-- 20221003041349_add_mfa_schema, 20230914180801_add_mfa_factors_user_id_idx,
-- 20240612123726_enable_rls_update_grants, 20240729123726_add_mfa_phone_config,
-- 20241009103726_add_web_authn): row level security on with no policy, so only a role that
-- bypasses it (postgres on hosted) reads rows; postgres may select and grant select.
create type auth.factor_type as enum ('totp', 'webauthn', 'phone');
create type auth.factor_status as enum ('unverified', 'verified');
alter type auth.factor_type owner to supabase_auth_admin;
alter type auth.factor_status owner to supabase_auth_admin;
create table auth.mfa_factors (
  id uuid not null primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  friendly_name text,
  factor_type auth.factor_type not null,
  status auth.factor_status not null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  secret text,
  phone text,
  last_challenged_at timestamptz unique,
  web_authn_credential jsonb,
  web_authn_aaguid uuid
);
create unique index mfa_factors_user_friendly_name_unique on auth.mfa_factors (friendly_name, user_id)
  where trim(friendly_name) <> '';
create index factor_id_created_at_idx on auth.mfa_factors (user_id, created_at);
create index mfa_factors_user_id_idx on auth.mfa_factors (user_id);
alter table auth.mfa_factors owner to supabase_auth_admin;
alter table auth.mfa_factors enable row level security;

create function auth.uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;
create function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;
create function auth.email() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;
create function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;
alter function auth.uid() owner to supabase_auth_admin;
alter function auth.role() owner to supabase_auth_admin;
alter function auth.email() owner to supabase_auth_admin;
alter function auth.jwt() owner to supabase_auth_admin;
grant usage on schema auth to anon, authenticated, service_role, postgres, dashboard_user;
-- On hosted, postgres may read and reference Auth's tables (a profile table's foreign key into
-- auth.users is Supabase's documented pattern); Supabase Auth itself writes them.
grant all on all tables in schema auth to postgres, dashboard_user;
grant execute on all functions in schema auth to postgres, dashboard_user;
grant select on auth.mfa_factors to postgres with grant option;

-- Storage's schema, there as on every project; ours to leave alone.
create schema storage authorization supabase_storage_admin;
grant usage on schema storage to anon, authenticated, service_role, postgres;

-- The Data API's exposed schema for GraphQL, owned by the platform.
create schema graphql_public;
grant usage on schema graphql_public to anon, authenticated, service_role, postgres;
