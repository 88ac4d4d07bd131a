-- Who has no second factor (issue 28, item 6): GET /admin/users?secondFactor=true|false. The
-- list filters with an EXISTS on mfa_factors (its user_id index) as the caller, under the
-- factors' read policy; a search (`q`) gets its page of ids from this function, so the filter
-- must be applied here too: applied to the function's page afterwards it would shorten pages
-- and skip matches. Only a reader of users learns who has a factor, as the factors' policy says.
drop function if exists latchkey.matching_user_ids(
  text, text, text, boolean, boolean, timestamptz, uuid, integer
);
create or replace function latchkey.matching_user_ids(
  p_text text,
  p_role text,
  p_tier text,
  p_banned boolean,
  p_verified boolean,
  p_second_factor boolean,
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
  -- "Callers read own factors, user readers any": without users:read, nobody's factors.
  if p_second_factor is not null and not latchkey.caller_has_permission('users:read') then
    return;
  end if;
  return query execute
    'select u.id from latchkey.users u
     where u.search_text like $1
       and ($2::text is null or u.role = $2)
       and ($3::text is null or u.tier = $3)
       and ($4::boolean is null or (u.banned_at is not null) = $4)
       and ($5::boolean is null or (u.email_verified_at is not null) = $5)
       and ($6::boolean is null or exists(
         select 1 from latchkey.mfa_factors f
         where f.user_id = u.id and f.confirmed_at is not null) = $6)
       and ($8::uuid is null or (u.created_at, u.id) < ($7, $8))
     order by u.created_at desc, u.id desc
     limit $9'
    using '%' || pg_catalog.regexp_replace(lower(p_text), '([\\%_])', '\\\1', 'g') || '%',
      p_role, p_tier, p_banned, p_verified, p_second_factor, p_before_created_at, p_before_id,
      least(greatest(p_limit, 1), 201);
end
$$;
revoke all on function latchkey.matching_user_ids(
  text, text, text, boolean, boolean, boolean, timestamptz, uuid, integer
) from public;
grant execute on function latchkey.matching_user_ids(
  text, text, text, boolean, boolean, boolean, timestamptz, uuid, integer
) to latchkey_caller;
