import type { JWTPayload } from "jose";
import postgres from "postgres";
import { withDatabase } from "./http.ts";

/**
 * Supabase's Data API as far as a minted token matters: PostgREST's use of a verified token's
 * claims (connected as `authenticator`, `set local role` to the `role` claim,
 * `request.jwt.claims`) on a team's own table guarded by Supabase-style policies on `auth.uid()`
 * and `auth.jwt()`. Only on our hosted-like clusters, where those exist
 * (LATCHKEY_TEST_SUPERUSER_URL is set).
 */

/** A team's table, as a team would guard it: owners read theirs; writes need a session or scope. */
export async function createFixtureTable() {
  await withDatabase((sql) =>
    sql.unsafe(`
      drop table if exists public.latchkey_fixture_notes;
      create table public.latchkey_fixture_notes (
        id bigint generated always as identity primary key,
        owner_id uuid not null default auth.uid(),
        body text not null
      );
      alter table public.latchkey_fixture_notes enable row level security;
      grant select, insert on public.latchkey_fixture_notes to authenticated;
      create policy "Owners read their notes" on public.latchkey_fixture_notes
        for select to authenticated using (owner_id = (select auth.uid()));
      create policy "Sessions, and keys with notes:write, add notes"
        on public.latchkey_fixture_notes for insert to authenticated
        with check (
          owner_id = (select auth.uid())
          and ((select auth.jwt()) ->> 'key_id' is null
            or coalesce((select auth.jwt()) -> 'scopes', '[]'::jsonb) ? 'notes:write')
        );`)
  );
}

export async function insertNotesAsOwner(ownerId: string, ...bodies: string[]) {
  await withDatabase((sql) =>
    sql`insert into public.latchkey_fixture_notes ${
      sql(bodies.map((body) => ({ owner_id: ownerId, body })))
    }`
  );
}

/** What PostgREST does with a verified token: its role claim as the role, its claims as GUC. */
export async function asDataApi<T>(
  claims: JWTPayload,
  work: (tx: postgres.TransactionSql) => Promise<T>,
) {
  const url = new URL(Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!);
  url.username = "authenticator";
  const sql = postgres(url.toString(), { max: 1, prepare: false, onnotice: () => {} });
  try {
    return await sql.begin(async (tx) => {
      await tx.unsafe(`set local role "${String(claims.role).replaceAll('"', '""')}"`);
      await tx`select set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`;
      return await work(tx);
    }) as T;
  } finally {
    await sql.end();
  }
}

export const visibleNotes = (claims: JWTPayload) =>
  asDataApi(claims, async (tx) =>
    (await tx<{ body: string }[]>`
      select body from public.latchkey_fixture_notes order by body`).map((row) => row.body));

export const addNote = (claims: JWTPayload, body: string) =>
  asDataApi(claims, (tx) => tx`insert into public.latchkey_fixture_notes (body) values (${body})`);
