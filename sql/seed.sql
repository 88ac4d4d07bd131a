-- Latchkey's deploy seed: creates the configured first admin. Safe to run on every deploy:
-- the second run changes nothing.
--
-- `deno task db:seed` (and `deno task start`) run it after binding the bootstrap configuration
-- as transaction settings:
--   latchkey.bootstrap_admin_email          LATCHKEY_BOOTSTRAP_ADMIN_EMAIL
--   latchkey.bootstrap_admin_password_hash  argon2id PHC of LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD,
--                                           or LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD_HASH as given
--   latchkey.bootstrap_promote_existing     'true' with --promote-existing
-- Under `supabase db reset` nothing is bound, so it reports 'skipped' and creates nothing;
-- run `deno task db:seed` against that database, or `select latchkey.promote_user(...)`.
select latchkey.bootstrap_admin(
  nullif(current_setting('latchkey.bootstrap_admin_email', true), ''),
  nullif(current_setting('latchkey.bootstrap_admin_password_hash', true), ''),
  coalesce(nullif(current_setting('latchkey.bootstrap_promote_existing', true), ''), 'false')::boolean
) as latchkey_bootstrap;
