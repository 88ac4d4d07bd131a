-- Latchkey's deploy seed, applied by `supabase db reset` (see supabase/config.toml).
--
-- The migrations create everything Latchkey needs, so today this seed creates nothing: the
-- first-admin bootstrap from LATCHKEY_BOOTSTRAP_ADMIN_* is not implemented yet (issue
-- "Zero-touch bootstrap"). It is kept so the CLI's seed path is valid.
select 'latchkey seed: nothing to seed yet' as latchkey_seed;
