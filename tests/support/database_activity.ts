import postgres from "postgres";

/**
 * The cluster's sessions that are not idle, with what they wait on and who blocks them: a test
 * or part that hangs without using CPU is most often waiting on the database, and this says on
 * what. As the demoted `postgres`, the sessions of its own login (the functions', the tests')
 * show their queries; as the superuser, every session's does.
 */
export async function databaseActivity(url: string, when: string): Promise<string> {
  const sql = postgres(url, { max: 1, prepare: false, connect_timeout: 5, onnotice: () => {} });
  try {
    const rows = await sql<Record<string, unknown>[]>`
      select pid, datname, application_name, state, wait_event_type, wait_event,
        pg_blocking_pids(pid) as blocked_by,
        round(extract(epoch from now() - xact_start)::numeric, 1) as xact_seconds,
        round(extract(epoch from now() - state_change)::numeric, 1) as state_seconds,
        left(regexp_replace(query, '[[:space:]]+', ' ', 'g'), 240) as query
      from pg_stat_activity
      where pid <> pg_backend_pid() and backend_type = 'client backend' and state <> 'idle'
      order by xact_start nulls last`;
    return `database sessions not idle ${when}:\n` +
      (rows.map((row) => "  " + JSON.stringify(row)).join("\n") || "  (none)") + "\n";
  } catch (error) {
    return `database sessions ${when}: not read (${
      error instanceof Error ? error.message : error
    })\n`;
  } finally {
    await sql.end({ timeout: 1 });
  }
}
