-- Step-up (issue 28, item 4), one more dangerous action: enabling a disabled key that holds an
-- admin permission. Disabling is what an owner or an admin does to a key they suspect; turning
-- it back on restores machine power over the admin plane as surely as minting a new one, so a
-- session needs a second factor verified within the window here too. Disabling, renaming and
-- metadata stay free. Keys and the X-Admin-Key pass, as for minting (caller_stepped_up).

create or replace function latchkey.guard_admin_key_step_up()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.scopes && array(select p.name from latchkey.permissions p) then
    if tg_op = 'INSERT' then
      perform latchkey.require_step_up('Minting a key with an admin permission');
    else
      perform latchkey.require_step_up('Enabling a key with an admin permission');
    end if;
  end if;
  return new;
end
$$;
revoke all on function latchkey.guard_admin_key_step_up() from public;

-- Only the turn from disabled to enabled fires it: the hot path's updates (last use, credits)
-- never touch `enabled`, and the WHEN clause keeps even a trigger call off them.
drop trigger if exists guard_admin_key_enable_step_up on latchkey.api_keys;
create trigger guard_admin_key_enable_step_up
  before update of enabled on latchkey.api_keys
  for each row when (not old.enabled and new.enabled)
  execute function latchkey.guard_admin_key_step_up();
