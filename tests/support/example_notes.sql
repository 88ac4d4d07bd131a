-- The table behind functions/example-notes: a team's own data, not Latchkey's, guarded the way
-- a Supabase team guards a table: each note belongs to `auth.uid()`, the user of the token the
-- Data API verified (for a Latchkey key, its owner). Owners read their own; a session, or a key
-- holding notes:write, adds notes in its own name. Re-runnable (tests create it as they need).
create table if not exists public.notes (
  id bigint generated always as identity primary key,
  owner_id uuid not null default auth.uid(),
  body text not null check (char_length(body) between 1 and 1000),
  created_at timestamptz not null default now()
);
alter table public.notes enable row level security;
revoke all on public.notes from anon, authenticated;
-- Only `body` is written by the caller: the owner is always the token's user.
grant select on public.notes to authenticated;
grant insert (body) on public.notes to authenticated;

drop policy if exists "Owners read their notes" on public.notes;
create policy "Owners read their notes" on public.notes
  for select to authenticated using (owner_id = (select auth.uid()));

drop policy if exists "Sessions, and keys holding notes:write, add notes" on public.notes;
create policy "Sessions, and keys holding notes:write, add notes" on public.notes
  for insert to authenticated
  with check (
    owner_id = (select auth.uid())
    and ((select auth.jwt()) ->> 'key_id' is null
      or coalesce((select auth.jwt()) -> 'scopes', '[]'::jsonb) ? 'notes:write')
  );
