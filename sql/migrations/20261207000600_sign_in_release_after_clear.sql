-- A successful sign-in clears its email's failed attempts (start_session), and with them the
-- reservations of sign-ins of the same email still in flight. Those attempts' release then found
-- no row and gave nothing back to the per-client and per-email budgets: ten concurrent right
-- passwords from one address (an office behind one NAT, a benchmark) spent the client's budget
-- of 50 failures in about 55 sign-ins, and every later one was refused 429. The budgets are
-- given back whether or not the row is still there: a release comes only from an attempt that
-- succeeded, once.
create or replace function latchkey.release_sign_in(p_attempt_id bigint, p_email text,
  p_client text, p_window interval, p_client_failures integer, p_email_failures integer)
returns void
language plpgsql
security definer
set search_path to ''
as $$
begin
  delete from latchkey.sign_in_failures where id = p_attempt_id;
  update latchkey.throttles t set allowed_at = t.allowed_at - p_window / p_client_failures
  where t.bucket = 'sign_in_client'
    and t.subject_hash = pg_catalog.sha256(pg_catalog.convert_to(p_client, 'UTF8'));
  update latchkey.throttles t set allowed_at = t.allowed_at - p_window / p_email_failures
  where t.bucket = 'sign_in_email'
    and t.subject_hash = pg_catalog.sha256(pg_catalog.convert_to(lower(p_email), 'UTF8'));
end
$$;
