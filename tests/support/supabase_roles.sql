-- The roles of a hosted Supabase project, cluster-wide: our own SQL, written from the facts of
-- supabase/postgres (migrations/db/init-scripts, migrations/db/migrations and
-- 10000000000000_demote-postgres.sql). Run once per test cluster as its bootstrap superuser,
-- `supabase_admin`; each database then gets supabase_platform.sql.

-- Roles. `supabase_admin` is the only superuser; `postgres` is demoted.
create role postgres login
  nosuperuser createdb createrole replication bypassrls;
create role anon nologin noinherit;
create role authenticated nologin noinherit;
create role service_role nologin noinherit bypassrls;
create role authenticator login noinherit;
create role supabase_auth_admin login noinherit createrole noreplication;
create role supabase_storage_admin login noinherit createrole noreplication;
create role dashboard_user nosuperuser createdb createrole replication;
grant anon, authenticated, service_role to authenticator;
grant anon, authenticated, service_role to postgres;
grant pg_read_all_data, pg_signal_backend, pg_monitor to postgres;
-- 20230529180330_alter_api_roles_for_inherit.sql
alter role anon inherit;
alter role authenticated inherit;
alter role service_role inherit;
-- The API roles' own limits, which PostgREST's requests carry.
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
alter role authenticator set statement_timeout = '8s';
alter role authenticator set lock_timeout = '8s';
alter role postgres set search_path = "$user", public, extensions;

